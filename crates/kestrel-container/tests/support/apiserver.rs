//! A Kubernetes API server stand-in on 127.0.0.1 that replays scripted responses: pod lists and
//! watch streams (one event per line) for `/api/v1/pods`, 404 for anything else.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[derive(Clone)]
pub enum Reply {
    Json(StatusCode, String),
    /// Watch events, one per line, then the connection stays open (`hang`) or ends.
    Events(String, bool),
}

#[derive(Default)]
pub struct Script {
    pub lists: Mutex<VecDeque<Reply>>,
    pub watches: Mutex<VecDeque<Reply>>,
    pub requests: Mutex<Vec<String>>,
}

impl Script {
    fn next(queue: &Mutex<VecDeque<Reply>>, fallback: Reply) -> Reply {
        let mut q = queue.lock().unwrap();
        // The last scripted list answer repeats; an exhausted watch script hangs.
        match q.len() {
            0 => fallback,
            1 => q.front().cloned().unwrap(),
            _ => q.pop_front().unwrap(),
        }
    }

    pub fn lists_served(&self) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !r.contains("watch=true"))
            .count()
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn reply(r: Reply) -> Response<Body> {
    match r {
        Reply::Json(status, text) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(text)).boxed())
            .unwrap(),
        Reply::Events(lines, hang) => {
            let frames: Vec<Result<Frame<Bytes>, Infallible>> = lines
                .lines()
                .map(|l| Ok(Frame::data(Bytes::from(format!("{l}\n")))))
                .collect();
            let events = futures::stream::iter(frames);
            let body: Body = if hang {
                BodyExt::boxed(StreamBody::new(events.chain(futures::stream::pending())))
            } else {
                BodyExt::boxed(StreamBody::new(events))
            };
            Response::builder()
                .header("content-type", "application/json")
                .body(body)
                .unwrap()
        }
    }
}

/// Serves `script` on 127.0.0.1 and returns the API server URL.
pub async fn serve(script: Arc<Script>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let script = script.clone();
                    async move {
                        let uri = req.uri().to_string();
                        script.requests.lock().unwrap().push(uri.clone());
                        let r = if !uri.starts_with("/api/v1/pods") {
                            Reply::Json(StatusCode::NOT_FOUND, "{}".to_owned())
                        } else if uri.contains("watch=true") {
                            Script::next(&script.watches, Reply::Events(String::new(), true))
                        } else {
                            Script::next(
                                &script.lists,
                                Reply::Json(StatusCode::NOT_FOUND, "{}".to_owned()),
                            )
                        };
                        Ok::<_, Infallible>(reply(r))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}
