//! `catchup serve` on a loopback port, and a plain HTTP/1.1 client for it:
//! a request written by hand, the answer's status, headers and body read
//! back. (The client is the test's, so it hides nothing the server does.)

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use super::Project;

/// How long the service waits on a client that does not read (README:
/// "Measured under load").
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `catchup serve`, killed when dropped.
pub struct Service {
    pub port: u16,
    child: Child,
}

/// A free loopback port (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

impl Project {
    /// Points `[web] base_url` at a loopback port for the service, and
    /// returns the port.
    pub fn use_web(&self) -> u16 {
        let port = free_port();
        let settings = self.read("config/newsletter.toml").replace(
            "base_url = \"https://news.hsj.example\"",
            &format!("base_url = \"http://127.0.0.1:{port}\""),
        );
        self.write("config/newsletter.toml", settings);
        port
    }

    /// Starts `catchup serve` on `port` and waits for its first line.
    pub fn serve(&self, port: u16) -> Service {
        self.serve_with(port, &[]).0
    }

    /// Starts `catchup serve` on `port` with extra environment variables;
    /// the service and its first line.
    pub fn serve_with(&self, port: u16, env: &[(&str, &str)]) -> (Service, String) {
        let mut child = self
            .command()
            .envs(env.iter().copied())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start catchup serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        assert!(
            line.starts_with(&format!(
                "catchup serve: listening on http://127.0.0.1:{port} "
            )),
            "the service did not start: {line:?}"
        );
        (Service { port, child }, line)
    }
}

impl Service {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn child(&self) -> &Child {
        &self.child
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request to a loopback URL, `Connection: close`.
pub fn request(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Answer {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("Content-Type", ct))
        .into_iter()
        .collect();
    request_with(method, url, &headers, body)
}

/// One request, `None` if the service could not be reached or hung up
/// before answering (it was killed).
pub fn try_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Answer> {
    let rest = url.strip_prefix("http://")?;
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    TcpStream::connect(host).ok()?;
    let answer = std::panic::catch_unwind(|| request_with(method, url, headers, body)).ok()?;
    (answer.status != 0).then_some(answer)
}

/// One request with `headers` (an empty value leaves the header out).
pub fn request_with(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    assert!(host.starts_with("127.0.0.1:"), "only loopback: {url}");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers.iter().filter(|(_, v)| !v.is_empty()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A one-click POST, as mail providers send it (RFC 8058).
pub fn one_click(url: &str) -> Answer {
    request(
        "POST",
        url,
        Some("application/x-www-form-urlencoded"),
        b"List-Unsubscribe=One-Click",
    )
}
