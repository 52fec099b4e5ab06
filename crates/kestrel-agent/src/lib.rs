//! Kestrel's shipping client: batches alerts, inventories, findings and sensor health to the server, buffering on disk while it is unreachable
