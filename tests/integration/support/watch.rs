//! A running `catchup preview --watch` and plain HTTP to it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::time::{Duration, Instant};

use super::Project;

/// A running `catchup preview --watch`, killed when dropped.
pub struct Watch {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Watch {
    pub fn start(project: &Project, args: &[&str]) -> Watch {
        Watch::start_with(project, args, &[])
    }

    /// Starts it with extra environment variables.
    pub fn start_with(project: &Project, args: &[&str], env: &[(&str, String)]) -> Watch {
        let mut command = project.command();
        command
            .args(["preview", "--watch"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start catchup");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("the first line");
        let url = first.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
            "{first:?}"
        );
        // Keep reading what it says, so that it never writes to a closed or
        // full pipe.
        let mut stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Watch { child, url }
    }

    pub fn get(&self, path: &str) -> String {
        let (host, _) = host_and_path(&self.url);
        let mut stream = std::net::TcpStream::connect(host).expect("connect");
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        response
    }

    /// Polls `path` until `want` is in it, for at most two seconds from
    /// `since`.
    pub fn wait_for(&self, path: &str, want: &str, since: Instant) -> String {
        loop {
            let body = self.get(path);
            if body.contains(want) {
                return body;
            }
            assert!(
                since.elapsed() < Duration::from_secs(2),
                "{want:?} not served within 2 s; last:\n{body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn host_and_path(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("http://").expect("http");
    rest.split_once('/').expect("a path")
}
