//! A real HTTP receiver (tiny_http) that records every request and answers with the
//! statuses it is given.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// The value of header `name` (case-insensitive); panics when absent.
    pub fn header(&self, name: &str) -> &str {
        self.header_opt(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn header_opt(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }

    /// The body as JSON: the `payload` form field for form bodies, else the body.
    pub fn json(&self) -> serde_json::Value {
        let text = if self.header("Content-Type") == "application/x-www-form-urlencoded" {
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(&self.body)
                .into_owned()
                .collect();
            assert_eq!(fields.len(), 1, "one form field: {fields:?}");
            assert_eq!(fields[0].0, "payload");
            fields[0].1.clone()
        } else {
            self.body_text()
        };
        serde_json::from_str(&text).expect("JSON payload")
    }
}

/// A receiver on 127.0.0.1; dropped, it stops.
pub struct Receiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// Requests received and not answered yet: now, and the most at once.
    open: Arc<(AtomicUsize, AtomicUsize)>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Answers 200 to everything.
    pub fn start() -> Receiver {
        Receiver::with_statuses(&[])
    }

    /// Answers with `statuses` in turn, then 200. A 429 carries `Retry-After: 1`.
    pub fn with_statuses(statuses: &[u16]) -> Receiver {
        Receiver::serve("127.0.0.1:0", statuses, None, None)
    }

    /// Answers with `statuses` in turn, then 200, each with the body `reply`, the header
    /// `X-Receiver: tiny` and a cookie.
    pub fn replying(statuses: &[u16], reply: &str) -> Receiver {
        Receiver::serve("127.0.0.1:0", statuses, None, Some(reply.to_string()))
    }

    /// Answers 200 on a given port (to bring a dead destination to life).
    pub fn on_port(port: u16) -> Receiver {
        Receiver::serve(&format!("127.0.0.1:{port}"), &[], None, None)
    }

    /// Records each request, then waits `delay` before answering 200 (a hung receiver).
    pub fn hanging(delay: std::time::Duration) -> Receiver {
        Receiver::serve("127.0.0.1:0", &[], Some(delay), None)
    }

    fn serve(
        address: &str,
        statuses: &[u16],
        delay: Option<std::time::Duration>,
        reply: Option<String>,
    ) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(address).expect("bind receiver"));
        let port = server.server_addr().to_ip().expect("ip address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let mut statuses: VecDeque<u16> = statuses.iter().copied().collect();
        let thread = {
            let server = Arc::clone(&server);
            let received = Arc::clone(&received);
            let open = Arc::clone(&open);
            std::thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let now = open.0.fetch_add(1, Ordering::SeqCst) + 1;
                    open.1.fetch_max(now, Ordering::SeqCst);
                    let mut body = Vec::new();
                    let _ = std::io::Read::read_to_end(request.as_reader(), &mut body);
                    received.lock().expect("lock").push(Received {
                        method: request.method().to_string(),
                        url: request.url().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| (h.field.to_string(), h.value.to_string()))
                            .collect(),
                        body,
                        at: std::time::Instant::now(),
                    });
                    let status = statuses.pop_front().unwrap_or(200);
                    let text = reply.clone().unwrap_or_else(|| "ok".to_string());
                    let mut response =
                        tiny_http::Response::from_string(text).with_status_code(status);
                    if reply.is_some() {
                        for (name, value) in
                            [("X-Receiver", "tiny"), ("Set-Cookie", "session=s3cr3t")]
                        {
                            response.add_header(
                                tiny_http::Header::from_bytes(name, value).expect("header"),
                            );
                        }
                    }
                    if status == 429 {
                        response.add_header(
                            tiny_http::Header::from_bytes("Retry-After", "1").expect("header"),
                        );
                    }
                    match delay {
                        // Answer late from another thread, so the receiver keeps recording.
                        Some(delay) => {
                            let open = Arc::clone(&open);
                            std::thread::spawn(move || {
                                std::thread::sleep(delay);
                                open.0.fetch_sub(1, Ordering::SeqCst);
                                let _ = request.respond(response);
                            });
                        }
                        None => {
                            open.0.fetch_sub(1, Ordering::SeqCst);
                            let _ = request.respond(response);
                        }
                    }
                }
            })
        };
        Receiver {
            port,
            received,
            open,
            server,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// The most requests it held at once (received, not yet answered).
    pub fn peak_open(&self) -> usize {
        self.open.1.load(Ordering::SeqCst)
    }

    /// The last request's payload.
    pub fn last_json(&self) -> serde_json::Value {
        self.requests().last().expect("a request").json()
    }

    /// The only request received; panics unless there is exactly one.
    pub fn only(&self) -> Received {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected one request, got {}",
            requests.len()
        );
        requests.into_iter().next().expect("one")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
