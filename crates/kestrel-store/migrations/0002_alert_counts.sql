-- Alert listing at 100,000+ alerts: the page total and the overview's 24-hour timeline were full
-- scans of the matching alerts. `alert_counts` keeps how many alerts each (hour, cluster, rule,
-- priority) has, maintained in the ingest transaction for the alerts it actually stores, so
-- totals and the timeline read a few rows per hour instead of every alert.
-- `hour` is floor(time_ns / 3600000000000): whole hours since the Unix epoch.

CREATE TABLE alert_counts (
    hour BIGINT NOT NULL,
    cluster TEXT NOT NULL,
    rule TEXT NOT NULL,
    priority_rank BIGINT NOT NULL,
    priority TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (hour, cluster, rule, priority_rank)
);

INSERT INTO alert_counts (hour, cluster, rule, priority_rank, priority, n)
SELECT h, cluster, rule, priority_rank, MIN(priority), COUNT(*)
FROM (
    SELECT CASE WHEN time_ns >= 0 THEN time_ns / 3600000000000
                ELSE -((-time_ns - 1) / 3600000000000) - 1 END AS h,
           cluster, rule, priority_rank, priority
    FROM alerts
) AS a
GROUP BY h, cluster, rule, priority_rank;

-- The list is ordered by (time_ns DESC, id DESC): indexes that end in (time_ns, id) give that
-- order without sorting, so a page reads only its rows. priority_rank rides along in the time
-- index so a priority filter is checked without reading the row.
DROP INDEX alerts_time;
CREATE INDEX alerts_time_id ON alerts (time_ns, id, priority_rank);
DROP INDEX alerts_rule_time;
CREATE INDEX alerts_rule_time_id ON alerts (rule, time_ns, id);
DROP INDEX alerts_workload_time;
CREATE INDEX alerts_workload_time_id ON alerts (cluster, namespace, workload, time_ns, id);
DROP INDEX alerts_pod;
CREATE INDEX alerts_pod_time_id ON alerts (namespace, pod, time_ns, id);
CREATE INDEX alerts_node_time_id ON alerts (node, time_ns, id);
