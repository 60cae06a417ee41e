//! The MLLP listener over real TCP on 127.0.0.1, running in this process: driven by an
//! independent sender (the `hl7` package from PyPI, its `MLLPClient` and `hl7.parse`) and
//! by raw sockets for the framing and the limits. Synthetic data only.

use epicrisis_sources::hl7v2::{self, DischargeEvent, Inbound, Message};
use epicrisis_sources::mllp::{self, MllpCounts, MllpSettings};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Visits the handler treats specially; any other is recorded and accepted.
const FAILS: &str = "V-FALLA";
const SLOW: &str = "V-LENTO";
const PANICS: &str = "V-PANICO";

/// A listener running in this process.
struct Running {
    addr: SocketAddr,
    /// (visit number, control id) of each discharge the handler accepted.
    events: Arc<Mutex<Vec<(String, String)>>>,
    stop: oneshot::Sender<()>,
    done: JoinHandle<MllpCounts>,
}

impl Running {
    async fn stop(self) -> MllpCounts {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .expect("the listener stops")
            .expect("the listener does not panic")
    }
    fn events(&self) -> Vec<(String, String)> {
        self.events.lock().unwrap().clone()
    }
}

async fn start(settings: MllpSettings) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let recorded = events.clone();
    let handler = move |event: DischargeEvent| {
        let recorded = recorded.clone();
        async move {
            match event.visit_number.as_str() {
                FAILS => Err("La fuente no tiene el episodio pedido".to_string()),
                SLOW => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok("tarde".to_string())
                }
                PANICS => panic!("a handler that panics (expected by the test)"),
                _ => {
                    let key = (event.visit_number.clone(), event.control_id.clone());
                    recorded.lock().unwrap().push(key);
                    Ok("Alta recibida; borrador en cola".to_string())
                }
            }
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(mllp::serve(listener, settings, handler, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        events,
        stop,
        done,
    }
}

/// PV1 with the visit number (PV1-19) and discharge time (PV1-45).
fn pv1(visit: &str) -> String {
    let mut fields = vec![""; 45];
    (fields[0], fields[1], fields[18], fields[44]) = ("1", "I", visit, "202603121000");
    format!("PV1|{}", fields.join("|"))
}

/// A synthetic message of type `kind` (`ADT^A03`) for `visit`.
fn message(kind: &str, control: &str, visit: &str) -> String {
    format!(
        "MSH|^~\\&|HIS|HOSP_SUR|EPICRISIS|HOSP_SUR|20260312101500||{kind}|{control}|P|2.5\r\
         EVN|A03|20260312101500\r\
         PID|1||22222222-2^^^RUT^NI||Rojas Díaz^Camila\r{}\r",
        pv1(visit)
    )
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = vec![mllp::START];
    out.extend_from_slice(body);
    out.extend_from_slice(&mllp::END);
    out
}

/// The next ACK on `stream` (its text), or `None` when the listener closed it.
async fn read_ack(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    let wait = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(end) = pending.windows(2).position(|w| w == mllp::END) {
                let body = pending[1..end].to_vec();
                pending.drain(..end + 2);
                return Some(String::from_utf8(body).unwrap());
            }
            let mut buf = [0u8; 4096];
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        }
    });
    wait.await.expect("an ACK or a close within 10 s")
}

/// MSA-1 and MSA-2 of an ACK.
fn msa(ack: &str) -> (String, String) {
    let ack = Message::parse(ack).unwrap();
    let msa = ack.segment("MSA").expect("MSA");
    (msa.component(1, 1), msa.component(2, 1))
}

fn hl7_python() -> Option<PathBuf> {
    epicrisis_testkit::fixtures::python(
        "EPICRISIS_HL7_PYTHON",
        "fhir-venv",
        "hl7.client",
        "run scripts/test.sh, which installs hl7 0.4.5 (python-hl7, MLLPClient) into \
         ~/.cache/epicrisis/fhir-venv",
    )
}

/// Sends each case with `hl7.client.MLLPClient` and prints, as JSON, what `hl7.parse`
/// reads in each ACK.
const SENDER: &str = r#"
import json, sys
import hl7
from hl7.client import MLLPClient

port = int(sys.argv[1])

def pv1(visit):
    f = [""] * 45
    f[0], f[1], f[18], f[44] = "1", "I", visit, "202603121000"
    return "PV1|" + "|".join(f)

def message(kind, control, visit):
    return "\r".join([
        "MSH|^~\\&|HIS|HOSP_SUR|EPICRISIS|HOSP_SUR|20260312101500||%s|%s|P|2.5" % (kind, control),
        "EVN|A03|20260312101500",
        "PID|1||33333333-3^^^RUT^NI||Fuentes Lagos^Tomás",
        pv1(visit),
    ]) + "\r"

def read(client, data):
    while not data.endswith(b"\x1c\r"):
        more = client.socket.recv(4096)
        if not more:
            break
        data += more
    body = data.lstrip(b"\x0b")[:-2]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    ack = hl7.parse(text)
    def get(seg, field, comp=1):
        try:
            return ack.extract_field(seg, 1, field, 1, comp)
        except KeyError:
            return ""
    try:
        location = str(ack.segment("ERR")[2])
    except KeyError:
        location = ""
    return {"msa1": get("MSA", 1), "msa2": get("MSA", 2), "msa3": get("MSA", 3),
            "err": get("ERR", 3), "location": location,
            "msh5": get("MSH", 5), "msh9": str(ack.segment("MSH")[9])}

cases = [
    ("a03", message("ADT^A03", "C-1", "V-1001")),
    ("fails", message("ADT^A03^ADT_A03", "C-2", "V-FALLA")),
    ("no_visit", message("ADT^A03", "C-3", "")),
    ("a08", message("ADT^A08", "C-4", "V-1002")),
    ("oru", message("ORU^R01", "C-5", "V-1003")),
    ("garbage", b"\x0b\x00\x01 esto no es HL7 \xff\xfe\x1c\r"),
    ("panics", message("ADT^A03", "C-6", "V-PANICO")),
    ("slow", message("ADT^A03", "C-7", "V-LENTO")),
    ("after", message("ADT^A03", "C-8", "V-1004")),
]
results = {}
client = MLLPClient("127.0.0.1", port)
client.socket.settimeout(20)
for name, payload in cases:
    if isinstance(payload, bytes):
        results[name] = read(client, client.send(payload))
    else:
        results[name] = read(client, client.send_message(payload))
client.close()
with MLLPClient("127.0.0.1", port) as second:
    second.socket.settimeout(20)
    results["second"] = read(second, second.send_message(message("ADT", "C-9", "V-1005")))
print(json.dumps(results))
"#;

/// Runs the Python sender against `port`.
async fn python_sender(python: PathBuf, port: u16) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("send.py");
    std::fs::write(&script, SENDER).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the sender failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).expect("JSON from the sender")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_sender_gets_the_right_acks() {
    let Some(python) = hl7_python() else {
        return;
    };
    let settings = MllpSettings {
        handler_timeout: Duration::from_secs(1),
        ..MllpSettings::default()
    };
    let running = start(settings).await;
    let results = python_sender(python, running.addr.port()).await;
    let field = |case: &str, name: &str| results[case][name].as_str().unwrap_or("?").to_string();
    let expected = [
        ("a03", "AA", "C-1", ""),
        ("fails", "AE", "C-2", "207"),
        ("no_visit", "AE", "C-3", "101"),
        ("a08", "AA", "C-4", ""),
        ("oru", "AR", "C-5", "200"),
        ("garbage", "AR", "", "100"),
        ("panics", "AE", "C-6", "207"),
        ("slow", "AE", "C-7", "207"),
        ("after", "AA", "C-8", ""),
        ("second", "AA", "C-9", ""),
    ];
    for (case, code, control, err) in expected {
        let got = (field(case, "msa1"), field(case, "msa2"), field(case, "err"));
        assert_eq!(
            got,
            (code.into(), control.into(), err.into()),
            "{case}: {}",
            results[case]
        );
        let to = if case == "garbage" { "" } else { "HIS" };
        assert_eq!(
            field(case, "msh5"),
            to,
            "{case}: sender and receiver swapped"
        );
        assert!(!field(case, "msa3").is_empty(), "{case}: a text");
        assert!(!results[case].to_string().contains("33333333"), "{case}");
    }
    assert_eq!(field("a03", "msh9"), "ACK^A03^ACK");
    assert_eq!(field("no_visit", "location"), "PV1^1^19");
    assert_eq!(field("oru", "location"), "MSH^1^9");
    assert_eq!(
        field("fails", "msa3"),
        "La fuente no tiene el episodio pedido"
    );
    assert!(
        field("a08", "msa3").contains("sin acción"),
        "{}",
        results["a08"]
    );
    let visits = [("V-1001", "C-1"), ("V-1004", "C-8"), ("V-1005", "C-9")];
    let visits = visits.map(|(v, c)| (v.to_string(), c.to_string()));
    assert_eq!(running.events(), visits);
    let counts = running.stop().await;
    assert_eq!((counts.aa, counts.ae, counts.ar), (4, 4, 2), "{counts:?}");
    assert_eq!(
        (counts.connections, counts.discharges),
        (2, 6),
        "{counts:?}"
    );
}

#[tokio::test]
async fn split_writes_and_pipelined_frames_are_answered_in_order() {
    let running = start(MllpSettings::default()).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let mut pending = Vec::new();
    stream
        .write_all(b"\r\n\x00 basura antes del marco ")
        .await
        .unwrap();
    let bytes = frame(message("ADT^A03", "S-1", "V-2001").as_bytes());
    for part in bytes.chunks(bytes.len() / 3 + 1) {
        stream.write_all(part).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ack = read_ack(&mut stream, &mut pending).await.expect("an ACK");
    assert_eq!(msa(&ack), ("AA".into(), "S-1".into()));
    let mut two = frame(message("ADT^A08", "S-2", "V-2002").as_bytes());
    two.extend(frame(message("ADT^A03", "S-3", "V-2003").as_bytes()));
    stream.write_all(&two).await.unwrap();
    for control in ["S-2", "S-3"] {
        let ack = read_ack(&mut stream, &mut pending).await.expect("an ACK");
        assert_eq!(msa(&ack), ("AA".into(), control.into()));
    }
    let visits = running
        .events()
        .into_iter()
        .map(|(v, _)| v)
        .collect::<Vec<_>>();
    assert_eq!(visits, ["V-2001", "V-2003"]);
    drop(stream);
    let counts = running.stop().await;
    assert_eq!((counts.aa, counts.dropped), (3, 0), "{counts:?}");
}

#[tokio::test]
async fn an_oversized_frame_closes_its_connection_only() {
    let settings = MllpSettings {
        max_frame_bytes: 4096,
        ..MllpSettings::default()
    };
    let running = start(settings).await;
    let mut other = TcpStream::connect(running.addr).await.unwrap();
    let mut other_pending = Vec::new();
    let mut big = TcpStream::connect(running.addr).await.unwrap();
    let mut body = message("ADT^A03", "BIG-1", "V-3001").into_bytes();
    body.extend(std::iter::repeat_n(b'x', 10_000));
    big.write_all(&frame(&body)).await.unwrap();
    let mut pending = Vec::new();
    let ack = read_ack(&mut big, &mut pending).await.expect("an AR");
    assert_eq!(msa(&ack), ("AR".into(), "BIG-1".into()));
    assert!(
        ack.contains("supera el tamaño máximo de 4096 bytes"),
        "{ack}"
    );
    assert_eq!(read_ack(&mut big, &mut pending).await, None, "then closed");
    // Without a readable MSH at its start: no answer, closed all the same.
    let mut junk = TcpStream::connect(running.addr).await.unwrap();
    junk.write_all(&[mllp::START]).await.unwrap();
    junk.write_all(&[b'z'; 5000]).await.unwrap();
    assert_eq!(read_ack(&mut junk, &mut Vec::new()).await, None);
    // The connection opened before, and a new one, are still served.
    let good = frame(message("ADT^A03", "OK-1", "V-3002").as_bytes());
    other.write_all(&good).await.unwrap();
    let ack = read_ack(&mut other, &mut other_pending)
        .await
        .expect("an ACK");
    assert_eq!(msa(&ack), ("AA".into(), "OK-1".into()));
    let mut fresh = TcpStream::connect(running.addr).await.unwrap();
    fresh
        .write_all(&frame(message("ADT^A03", "OK-2", "V-3003").as_bytes()))
        .await
        .unwrap();
    let ack = read_ack(&mut fresh, &mut Vec::new()).await.expect("an ACK");
    assert_eq!(msa(&ack), ("AA".into(), "OK-2".into()));
    drop((other, fresh));
    let counts = running.stop().await;
    assert_eq!(
        (counts.aa, counts.ar, counts.dropped),
        (2, 1, 1),
        "{counts:?}"
    );
}

#[tokio::test]
async fn idle_connections_and_unfinished_frames_are_closed() {
    let settings = MllpSettings {
        idle_timeout: Duration::from_millis(300),
        frame_timeout: Duration::from_millis(300),
        ..MllpSettings::default()
    };
    let running = start(settings).await;
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    let mut started = TcpStream::connect(running.addr).await.unwrap();
    let half = frame(message("ADT^A03", "H-1", "V-4001").as_bytes());
    started.write_all(&half[..half.len() / 2]).await.unwrap();
    // Frames that each end in time are not cut, even when every read ends one frame and
    // starts the next.
    let mut steady = TcpStream::connect(running.addr).await.unwrap();
    let mut pending = Vec::new();
    let (a, b) = (
        frame(message("ADT^A08", "T-1", "V-4002").as_bytes()),
        frame(message("ADT^A08", "T-2", "V-4002").as_bytes()),
    );
    steady.write_all(&a[..a.len() - 10]).await.unwrap();
    for (rest, next) in [(&a[a.len() - 10..], &b[..20]), (&b[20..], &[][..])] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        steady.write_all(&[rest, next].concat()).await.unwrap();
    }
    for control in ["T-1", "T-2"] {
        let ack = read_ack(&mut steady, &mut pending).await.expect("an ACK");
        assert_eq!(msa(&ack), ("AA".into(), control.into()));
    }
    let t0 = std::time::Instant::now();
    assert_eq!(read_ack(&mut idle, &mut Vec::new()).await, None);
    assert_eq!(read_ack(&mut started, &mut Vec::new()).await, None);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let counts = running.stop().await;
    assert_eq!(
        (counts.connections, counts.dropped, counts.discharges),
        (3, 1, 0)
    );
}

#[tokio::test]
async fn connections_over_the_cap_wait_their_turn() {
    let settings = MllpSettings {
        max_connections: 1,
        ..MllpSettings::default()
    };
    let running = start(settings).await;
    let mut first = TcpStream::connect(running.addr).await.unwrap();
    first
        .write_all(&frame(message("ADT^A03", "Q-1", "V-5001").as_bytes()))
        .await
        .unwrap();
    let ack = read_ack(&mut first, &mut Vec::new()).await.expect("an ACK");
    assert_eq!(msa(&ack).0, "AA");
    let mut second = TcpStream::connect(running.addr).await.unwrap();
    second
        .write_all(&frame(message("ADT^A03", "Q-2", "V-5002").as_bytes()))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let early = tokio::time::timeout(Duration::from_millis(400), second.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the second connection waits while the first is open"
    );
    drop(first);
    let ack = read_ack(&mut second, &mut Vec::new())
        .await
        .expect("an ACK");
    assert_eq!(msa(&ack), ("AA".into(), "Q-2".into()));
    drop(second);
    running.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_message_under_way_be_answered() {
    let settings = MllpSettings {
        handler_timeout: Duration::from_millis(500),
        ..MllpSettings::default()
    };
    let running = start(settings).await;
    let addr = running.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&frame(message("ADT^A03", "D-1", SLOW).as_bytes()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Running { stop, done, .. } = running;
    let _ = stop.send(());
    let ack = read_ack(&mut stream, &mut Vec::new())
        .await
        .expect("an ACK before closing");
    assert_eq!(msa(&ack), ("AE".into(), "D-1".into()));
    assert_eq!(read_ack(&mut stream, &mut Vec::new()).await, None);
    let counts = done.await.unwrap();
    assert_eq!((counts.ae, counts.discharges), (1, 1));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

/// Mutated and random bytes: reading and answering never panic, and an answer never
/// quotes the patient identifier.
#[test]
fn random_and_mutated_messages_never_panic() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds = [
        message("ADT^A03", "F-1", "V-6001"),
        message("ADT^A08", "F-2", "V-6002"),
        "MSH|^~\\&|A|B|C|D|||ADT^A03|1\rPV1|1|I\\X41\\\\E\\|||||||||||||||||V^X\r".to_string(),
    ];
    let alphabet = b"|^~\\&\r\nMSHPVX0A\x00\xff\xc3";
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].clone().into_bytes();
        if round % 5 == 0 {
            bytes = (0..next() % 200).map(|_| next() as u8).collect();
        }
        for _ in 0..(next() % 6) {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            match next() % 4 {
                0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                1 => bytes.truncate(at),
                2 => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => bytes[at] = next() as u8,
            }
        }
        let _ = Message::parse_bytes(&bytes).map(|m| format!("{m:?}"));
        let _ = hl7v2::Header::of_prefix(&bytes);
        let (header, answer) = match hl7v2::receive(&bytes) {
            Inbound::Reply { header, answer } => (header, answer),
            Inbound::Discharge { header, event } => {
                assert!(!format!("{event:?}").contains("22222222"));
                (header, hl7v2::Answer::accept("ok"))
            }
        };
        let ack = String::from_utf8_lossy(&hl7v2::ack(&header, &answer)).into_owned();
        assert!(!ack.contains("22222222"), "{ack:?}");
        assert!(Message::parse(&ack).is_ok(), "{ack:?}");
    }
}

/// The ACK's layout, byte for byte: ends swapped, ids copied, texts escaped and cut.
#[test]
fn the_ack_swaps_the_ends_copies_the_ids_and_escapes_the_text() {
    let Inbound::Discharge { header, .. } =
        hl7v2::receive(message("ADT^A03", "X-1", "V-7001").as_bytes())
    else {
        panic!("not a discharge")
    };
    let now = time::macros::datetime!(2026-03-12 10:15:02 -3);
    let ack = hl7v2::ack_text(&header, &hl7v2::Answer::accept("Alta recibida"), now, "E1");
    assert_eq!(
        ack,
        "MSH|^~\\&|EPICRISIS|HOSP_SUR|HIS|HOSP_SUR|20260312131502+0000||ACK^A03^ACK|E1|P|2.5\r\
         MSA|AA|X-1|Alta recibida\r"
    );
    let Inbound::Reply { header, answer } =
        hl7v2::receive(b"MSH|^~\\&|A^1.2^ISO|B|C|D|||ADT^A08|X-9")
    else {
        panic!("A08 is answered at once")
    };
    let ack = hl7v2::ack_text(&header, &answer, now, "E2");
    assert!(ack.starts_with("MSH|^~\\&|C|D|A^1.2^ISO|B|"), "{ack}");
    assert!(ack.contains("||ACK^A08^ACK|E2|P|2.5\rMSA|AA|X-9|"), "{ack}");
    let failed = hl7v2::Answer::error(207, "", "La fuente | no ^ responde\r~ & \\");
    let ack = hl7v2::ack_text(&hl7v2::Header::default(), &failed, now, "E3");
    assert!(
        ack.contains("\rMSA|AE||La fuente \\F\\ no \\S\\ responde \\R\\ \\T\\ \\E\\\r"),
        "{ack}"
    );
    assert!(
        ack.ends_with(
            "\rERR|||207^La fuente \\F\\ no \\S\\ responde \\R\\ \\T\\ \\E\\^HL70357|E\r"
        ),
        "{ack}"
    );
    assert_eq!(ack.matches('\r').count(), 3, "{ack}");
    let long = hl7v2::Answer::error(207, "", "é".repeat(300));
    let ack = Message::parse(&hl7v2::ack_text(
        &hl7v2::Header::default(),
        &long,
        now,
        "E4",
    ))
    .unwrap();
    assert_eq!(
        ack.segment("MSA").unwrap().component(3, 1).chars().count(),
        80
    );
    assert_eq!(
        ack.segment("ERR").unwrap().component(3, 2).chars().count(),
        199
    );
    let a = hl7v2::new_control_id();
    assert!(a != hl7v2::new_control_id() && a.len() <= 20, "{a}");
}
