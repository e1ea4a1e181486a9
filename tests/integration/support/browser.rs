//! A real browser for the web tests: Debian's headless Chromium, driven over
//! WebDriver (chromedriver) with fantoccini. Everything on loopback.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver and a browser session, ended when dropped.
pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or says why it
    /// cannot.
    pub async fn start() -> Result<Browser, String> {
        Browser::start_with(&[]).await
    }

    /// The same, with extra Chromium switches (`--force-dark-mode`).
    pub async fn start_with(extra: &[&str]) -> Result<Browser, String> {
        for program in [CHROMIUM, CHROMEDRIVER] {
            if !std::path::Path::new(program).exists() {
                return Err(format!(
                    "{program} is not installed (Debian: apt-get install chromium chromium-driver)"
                ));
            }
        }
        let port = super::web::free_port();
        // Its own process group, so that the browser it starts ends with it
        // even when a test fails (see `Drop`).
        let mut driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start chromedriver: {e}"))?;
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = driver.kill();
                return Err("chromedriver did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1200,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("chromedriver could not start Chromium: {e}"));
        match client {
            Ok(client) => Ok(Browser {
                client,
                driver,
                _profile: profile,
            }),
            Err(e) => {
                let _ = driver.kill();
                Err(e)
            }
        }
    }

    /// The browser's own profile folder (its command line names it).
    pub fn profile(&self) -> &std::path::Path {
        self._profile.path()
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Ends chromedriver and every Chromium process it started, whether
    /// the test passed or failed: killing chromedriver alone would leave
    /// the browser running. See: issue 18, item 15.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(self._profile.path())
            .status();
        let _ = self.driver.wait();
    }
}

/// A runtime for a test that drives the browser.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
