//! Headless Chromium through chromedriver (WebDriver over loopback), for the tests of
//! the web interface: pages, clicks, typing, dialogs, sizes, screenshots and the checks
//! every page must pass (nothing wider than the screen, no English for a person).

use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Chromium at 1280×1000 (see [`Driver::start_at`]).
    pub fn start() -> Option<Driver> {
        Driver::start_at(1280, 1000)
    }

    /// Headless Chromium through chromedriver, its window `width`×`height`; `None` (the
    /// test skips) when they are not installed, unless `EPICRISIS_REQUIRE_TOOLS` is set.
    pub fn start_at(width: u32, height: u32) -> Option<Driver> {
        use epicrisis_testkit::fixtures::on_path;
        let (Some(driver), Some(browser)) = (on_path("chromedriver"), on_path("chromium")) else {
            epicrisis_testkit::skip_or_fail(
                "chromium or chromedriver is not on PATH",
                "apt-get install chromium chromium-driver",
            );
            return None;
        };
        let port = epicrisis_testkit::free_port().unwrap();
        // Chromium's own words (date fields, file buttons) in Spanish, as a Chilean
        // physician's browser shows them.
        let child = Command::new(driver)
            .env("LANG", "es_CL.UTF-8")
            .env("LANGUAGE", "es_CL:es")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let t = Instant::now();
        let session = loop {
            let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "binary": browser, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--lang=es-CL", &format!("--window-size={width},{height}")]}}}});
            match http.post(format!("{base}/session")).json(&caps).send() {
                Ok(r) => {
                    let v: Value = r.json().unwrap();
                    break v["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{v}"))
                        .to_string();
                }
                Err(_) if t.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => panic!("chromedriver did not answer: {e}"),
            }
        };
        Some(Driver {
            child,
            base,
            session,
            http,
        })
    }

    pub fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let r = match method {
            "GET" => self.http.get(url).send(),
            _ => self.http.post(url).json(&body).send(),
        }
        .unwrap();
        let v: Value = r.json().unwrap();
        v["value"].clone()
    }

    pub fn go(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    pub fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    /// Presses and releases one key (a WebDriver key code such as Tab, U+E004).
    pub fn key(&self, code: &str) {
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": code}, {"type": "keyUp", "value": code}]}]}),
        );
    }

    /// Moves the pointer to (x, y) in the viewport.
    pub fn hover(&self, x: i64, y: i64) {
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y}]}]}),
        );
    }

    pub fn script(&self, js: &str) -> Value {
        self.call("POST", "/execute/sync", json!({"script": js, "args": []}))
    }

    pub fn wait_for(&self, what: &str, js: &str) {
        self.wait_for_up_to(what, js, Duration::from_secs(30));
    }

    /// As [`Driver::wait_for`], for up to `limit`.
    pub fn wait_for_up_to(&self, what: &str, js: &str, limit: Duration) {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.script(js) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        let at = self.script(
            "return location.pathname + ' | ' + (document.querySelector('[role=status]:not(:empty), [role=alert]') || document.body).textContent.trim().slice(0, 400)",
        );
        panic!("timed out waiting for {what}; the page: {at}");
    }

    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let v = self.call("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{name}.png"));
        std::fs::write(&p, bytes).unwrap();
        eprintln!("screenshot: {}", p.display());
        p
    }
    /// Sets the window's size (the viewport is a little smaller: the window has no
    /// frame in headless mode, so it is the same).
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        );
    }

    /// Accepts the dialogs (confirm, alert) that open one after another, until none has
    /// opened for two seconds; their texts.
    pub fn accept_dialogs(&self) -> Vec<String> {
        let mut texts = Vec::new();
        let mut quiet = Instant::now();
        while quiet.elapsed() < Duration::from_secs(2) && texts.len() < 5 {
            let t = self.call("GET", "/alert/text", Value::Null);
            match t.as_str() {
                Some(text) => {
                    texts.push(text.to_string());
                    self.call("POST", "/alert/accept", json!({}));
                    quiet = Instant::now();
                }
                None => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        texts
    }

    /// The page printed by the browser (its print style sheet applied), as PDF bytes.
    pub fn print_pdf(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.call("POST", "/print", json!({}));
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_else(|| panic!("print: {v}")))
            .unwrap()
    }

    /// How much wider than the window the page is, in CSS pixels (0: it fits).
    pub fn overflow_x(&self) -> i64 {
        self.script(
            "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth",
        )
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// Signs in through the login form of the server at `base` as `user` with `password`,
    /// and waits for the episode list.
    pub fn sign_in(&self, base: &str, user: &str, password: &str) {
        self.go(&format!("{base}/login"));
        self.type_into("#username", user);
        self.type_into("#password", password);
        self.click("form button[type=submit]");
        self.wait_for(
            "the episode list",
            "return location.pathname === '/episodios'",
        );
    }

    /// The checks every page must pass at the window's width: nothing wider than the
    /// screen, no English a person would read, no value shown without its label. Then a
    /// screenshot named `name`.
    pub fn page_ok(&self, name: &str) {
        let over = self.overflow_x();
        let english = self.english_words();
        // On a phone a table's rows become cards, each cell under its label: a cell that
        // shows a value (not only buttons) must carry one.
        let unlabelled = self.script(
            "return [...document.querySelectorAll('table.list td:not([data-label]):not([colspan])')]
               .filter(td => getComputedStyle(td).display === 'block')
               .filter(td => { const c = td.cloneNode(true); c.querySelectorAll('button,label,input,select,form').forEach(e => e.remove()); return c.textContent.trim() !== ''; })
               .slice(0, 3).map(td => td.textContent.trim().slice(0, 40))",
        );
        self.screenshot(name);
        assert_eq!(unlabelled, json!([]), "{name}: lines without their label");
        assert!(
            over <= 0,
            "{name}: the page is {over} px wider than the window"
        );
        assert!(
            english.is_empty(),
            "{name}: English on the page: {english:?}"
        );
    }

    /// The English words (from [`ENGLISH`]) in the text a person reads on the page:
    /// what is shown, titles, placeholders, labels of controls and the page's title.
    pub fn english_words(&self) -> Vec<String> {
        let text = self.script(
            "const parts=[document.title, document.body.innerText];
             document.querySelectorAll('[title],[placeholder],[aria-label],[alt]').forEach(e => {
               for (const a of ['title','placeholder','aria-label','alt']) if (e.getAttribute(a)) parts.push(e.getAttribute(a)); });
             document.querySelectorAll('input[type=submit],input[type=button]').forEach(e => parts.push(e.value));
             return parts.join(' ');",
        );
        let text = text.as_str().unwrap_or("").to_lowercase();
        let words: std::collections::HashSet<&str> = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .collect();
        ENGLISH
            .iter()
            .filter(|w| words.contains(**w))
            .map(|w| w.to_string())
            .collect()
    }
}

/// Words that in a Spanish page can only be English leaking through (none is also a
/// Spanish word: «no», «a», «me», «final», «error» are left out).
pub const ENGLISH: &[&str] = &[
    "the",
    "and",
    "of",
    "is",
    "are",
    "was",
    "with",
    "without",
    "not",
    "warning",
    "warnings",
    "omission",
    "medication",
    "diagnosis",
    "procedure",
    "unsupported",
    "claim",
    "claims",
    "draft",
    "drafts",
    "signed",
    "sign",
    "save",
    "saved",
    "cancel",
    "cancelled",
    "failed",
    "loading",
    "queue",
    "queued",
    "running",
    "done",
    "engine",
    "model",
    "server",
    "please",
    "click",
    "here",
    "version",
    "versions",
    "episode",
    "episodes",
    "patient",
    "search",
    "login",
    "logout",
    "password",
    "user",
    "users",
    "settings",
    "true",
    "false",
    "null",
    "undefined",
    "acknowledgefindings",
    "embeddings_model",
    "deterministic",
    "unknown",
    "missing",
    "invalid",
    "must",
    "should",
    "cannot",
    "could",
    "found",
    "page",
    "back",
    "home",
    "next",
    "previous",
    "export",
    "import",
    "upload",
    "download",
    "summary",
    "discharge",
    "admission",
    "lab",
    "labs",
    "medico",
];
