//! Load on `catchup serve`'s one-click unsubscribe, on loopback:
//!
//! 1. **Rate and latency.** A few thousand one-click POSTs, each for a
//!    different reader, from 256 concurrent connections; every one must be
//!    answered 200 and be in the suppression list afterwards.
//! 2. **`kill -9` mid-run.** The same, with the service killed part way:
//!    every address that got a 200 must be in the list (an answer is given
//!    only after the fsync).
//! 3. **A million readers.** Start-up time and peak memory of the service
//!    over a 1,000,000-row list, and one lookup.
//!
//! Run: `cargo bench --bench unsubscribe_load [-- READERS]` (default 5000;
//! `CATCHUP_BENCH_SKIP_MILLION=1` leaves out part 3).
//! Uses the release binary cargo builds for benches.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SECRET: &str = "bench secret: 0123456789abcdef0123456789abcdef";
/// Concurrent connections (`CATCHUP_BENCH_CONNECTIONS` to change).
fn concurrency() -> usize {
    std::env::var("CATCHUP_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn main() {
    let readers: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    let project = Project::new(readers);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "== one-click POSTs: {readers} readers, {} connections",
        concurrency()
    );
    let service = project.serve();
    // The reference, in the same run: as many GETs of a page that writes
    // nothing (`/u/`), so the ratio is what durability costs.
    let reference = runtime.block_on(fire(&project, readers, None, Method::Get));
    let outcome = runtime.block_on(fire(&project, readers, None, Method::OneClick));
    drop(service);
    let listed = project.suppressed();
    print!("reference, GET /u/ (nothing written): ");
    report(&reference);
    print!("one-click POST (fsynced before 200):  ");
    report(&outcome);
    println!(
        "one-click rate / reference rate: {:.2}",
        rate(&outcome) / rate(&reference)
    );
    let lost = outcome.ok.difference(&listed).count();
    println!(
        "answered 200: {}, in the list: {}, lost: {lost}",
        outcome.ok.len(),
        listed.len()
    );
    assert_eq!(outcome.ok.len(), readers, "every request answered 200");
    assert_eq!(lost, 0);

    println!("\n== kill -9 mid-run");
    std::fs::remove_file(project.dir.path().join("config/suppressed.csv")).expect("fresh list");
    let service = project.serve();
    let outcome = runtime.block_on(fire(
        &project,
        readers,
        Some((service, Duration::from_millis(150))),
        Method::OneClick,
    ));
    let listed = project.suppressed();
    let lost: Vec<&String> = outcome.ok.difference(&listed).collect();
    println!(
        "answered 200 before the kill: {}, failed or cut off: {}, in the list: {}, answered but missing: {}",
        outcome.ok.len(),
        readers - outcome.ok.len(),
        listed.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    project.check_rows_whole();

    if std::env::var_os("CATCHUP_BENCH_SKIP_MILLION").is_none() {
        println!("\n== a million readers");
        million(&project);
    }
}

/// What a round of requests got.
struct Outcome {
    ok: BTreeSet<String>,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

fn rate(outcome: &Outcome) -> f64 {
    outcome.latencies.len() as f64 / outcome.elapsed.as_secs_f64()
}

/// Which request a round sends.
#[derive(Clone, Copy)]
enum Method {
    /// `GET /u/`: a page, nothing written.
    Get,
    /// RFC 8058 one-click POST for each reader.
    OneClick,
}

fn report(outcome: &Outcome) {
    let mut l = outcome.latencies.clone();
    l.sort();
    let pct = |p: f64| {
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l.get(i).copied().unwrap_or_default()
    };
    println!(
        "{} requests in {:.2} s: {:.0} requests/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.len(),
        outcome.elapsed.as_secs_f64(),
        rate(outcome),
        ms(pct(0.5)),
        ms(pct(0.9)),
        ms(pct(0.99)),
        ms(l.last().copied().unwrap_or_default())
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sends one POST per reader from `CONCURRENCY` tasks; with `kill`, kills
/// the service after the given delay.
async fn fire(
    project: &Project,
    readers: usize,
    kill: Option<(Service, Duration)>,
    method: Method,
) -> Outcome {
    let key = catchup::bench::Key::new(SECRET).expect("key");
    let jobs: Vec<(String, String)> = (1..=readers)
        .map(|i| {
            let email = format!("reader{i}@nhs.example");
            let path = match method {
                Method::Get => "/u/".to_string(),
                Method::OneClick => format!("/u/{}", key.token(&email)),
            };
            (email, path)
        })
        .collect();
    let jobs = Arc::new(std::sync::Mutex::new(jobs));
    let port = project.port;
    let start = Instant::now();
    let killer = kill.map(|(mut service, after)| {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            service.kill();
        })
    });
    let mut tasks = Vec::new();
    for _ in 0..concurrency() {
        let jobs = Arc::clone(&jobs);
        tasks.push(tokio::spawn(async move {
            let mut ok = Vec::new();
            let mut latencies = Vec::new();
            loop {
                let Some((email, path)) = jobs.lock().expect("jobs").pop() else {
                    break;
                };
                let sent = Instant::now();
                if send(port, method, &path).await == Some(200) {
                    latencies.push(sent.elapsed());
                    ok.push(email);
                }
            }
            (ok, latencies)
        }));
    }
    let mut outcome = Outcome {
        ok: BTreeSet::new(),
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let (ok, latencies) = task.await.expect("task");
        outcome.ok.extend(ok);
        outcome.latencies.extend(latencies);
    }
    outcome.elapsed = start.elapsed();
    if let Some(killer) = killer {
        let _ = killer.await;
    }
    outcome
}

/// One request; the status, or `None` if the connection failed.
async fn send(port: u16, method: Method, path: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = match method {
        Method::Get => {
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        }
        Method::OneClick => {
            let body = "List-Unsubscribe=One-Click";
            format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    };
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// A scratch project: the repository's config and seeds, a list of readers,
/// `[web]` on a loopback port.
struct Project {
    dir: tempfile::TempDir,
    port: u16,
}

impl Project {
    fn new(readers: usize) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project");
        copy_dir(&fixture, dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let settings_path = dir.path().join("config/newsletter.toml");
        let settings = std::fs::read_to_string(&settings_path)
            .expect("settings")
            .replace(
                "base_url = \"https://news.hsj.example\"",
                &format!("base_url = \"http://127.0.0.1:{port}\""),
            );
        std::fs::write(&settings_path, settings).expect("settings");
        write_list(&dir.path().join("config/subscribers.csv"), readers);
        Project { dir, port }
    }

    fn serve(&self) -> Service {
        Service::start(self.dir.path(), self.port)
    }

    /// The addresses in the suppression list.
    fn suppressed(&self) -> BTreeSet<String> {
        std::fs::read_to_string(self.dir.path().join("config/suppressed.csv"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next().map(str::to_string))
            .collect()
    }

    /// Every row of the list is whole: four fields, a timestamp.
    fn check_rows_whole(&self) {
        let text = std::fs::read_to_string(self.dir.path().join("config/suppressed.csv"))
            .unwrap_or_default();
        for (n, line) in text.lines().enumerate().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            assert!(
                fields.len() == 4 && fields[2].ends_with('Z'),
                "row {} is torn: {line:?}",
                n + 1
            );
        }
        println!("all {} rows whole", text.lines().count().saturating_sub(1));
    }
}

fn write_list(path: &Path, readers: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("list"));
    writeln!(out, "email,name").expect("write");
    for i in 1..=readers {
        writeln!(out, "reader{i}@nhs.example,Reader {i}").expect("write");
    }
}

struct Service {
    child: Child,
    started: Duration,
}

impl Service {
    fn start(dir: &Path, port: u16) -> Service {
        let began = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_catchup"))
            .current_dir(dir)
            .env("CATCHUP_SECRET", SECRET)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("catchup serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        assert!(line.starts_with("catchup serve: listening"), "{line}");
        Service {
            child,
            started: began.elapsed(),
        }
    }

    /// Peak resident memory so far, from /proc.
    fn peak_rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

fn million(project: &Project) {
    let readers = 1_000_000;
    let list = project.dir.path().join("config/subscribers.csv");
    write_list(&list, readers);
    let size = std::fs::metadata(&list).map(|m| m.len()).unwrap_or(0);
    let service = project.serve();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = catchup::bench::Key::new(SECRET).expect("key");
    let path = format!("/u/{}", key.token("reader765432@nhs.example"));
    let asked = Instant::now();
    let status = runtime.block_on(send(project.port, Method::OneClick, &path));
    let lookup = asked.elapsed();
    println!(
        "list {:.1} MB: started (index built) in {:.2} s; peak memory {:.1} MB; one unsubscribe answered {status:?} in {:.1} ms",
        size as f64 / 1e6,
        service.started.as_secs_f64(),
        service.peak_rss_kb() as f64 / 1024.0,
        ms(lookup)
    );
    assert_eq!(status, Some(200));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
