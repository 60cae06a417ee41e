//! An MLLP listener for HL7 v2 discharge events.
//!
//! # Configuring the interface engine
//!
//! The listener binds the address in `EPICRISIS_MLLP_LISTEN`
//! ([`crate::settings::MLLP_LISTEN`]; `host:port`, for example
//! `0.0.0.0:2575`). Point a TCP/MLLP client channel of the hospital's interface engine
//! (Mirth/NextGen Connect, Rhapsody, Cloverleaf, Ensemble…) at that host and port, filter
//! it to ADT^A03 (other ADT events are acknowledged and ignored, so an unfiltered ADT feed
//! works too), and have it wait for an original-mode ACK (MSA-1 `AA`, `AE` or `AR`; enhanced
//! mode, MSH-15/16, is answered in original mode as well). Keep the engine's ACK timeout
//! above the handler timeout (25 s by default; engines wait about 30 s). Resend on `AE`
//! with ERR code 207 (the source was away) and do not resend on `AR`. Keep the connection
//! open between messages if the engine likes to (it is closed after 10 minutes idle and
//! the engine reconnects).
//!
//! # Framing
//!
//! A message travels as `0x0B <message> 0x1C 0x0D`. Bytes outside a frame are skipped
//! (a lone `0x0D` after an end block, keep-alive bytes). A connection carries any number
//! of messages, answered one after the other, in order. A start block inside a frame
//! abandons the unfinished frame. A frame longer than [`MllpSettings::max_frame_bytes`]
//! (1 MiB) gets an `AR` (ERR 207) when an MSH can be read from its start, and is dropped
//! without answer otherwise; either way the connection is closed.
//!
//! # Timeouts
//!
//! - idle ([`MllpSettings::idle_timeout`], 10 min): a connection with no frame under way
//!   that sends nothing for that long is closed;
//! - frame ([`MllpSettings::frame_timeout`], 60 s): a frame that started but has not
//!   ended that long afterwards is dropped with the connection (also the limit for
//!   writing an ACK to a peer that does not read);
//! - handler ([`MllpSettings::handler_timeout`], 25 s): then the ACK is `AE` (207).
//!
//! # ACKs
//!
//! As [`crate::hl7v2`] describes: `AA` for a handled A03 and for other ADT events,
//! `AE` when the A03 lacks its visit number or the handler failed, timed out or panicked,
//! `AR` for what is not an ADT message. The handler runs in a task of its own, so its
//! panics do not reach the listener. It may be called again for the same visit when the
//! engine resends a message: it should be idempotent.
//!
//! Nothing is logged: message contents never leave this module except through the
//! handler. [`MllpCounters`] count connections and answers.

use crate::hl7v2::{self, Answer, DischargeEvent, Header, Inbound};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

/// Start block.
pub const START: u8 = 0x0B;
/// End block (followed by a carriage return).
pub const END: [u8; 2] = [0x1C, 0x0D];

/// How the listener behaves; [`Default`] gives the documented values.
#[derive(Debug, Clone)]
pub struct MllpSettings {
    /// The largest message accepted (1 MiB).
    pub max_frame_bytes: usize,
    /// A connection with nothing under way is closed after this (10 min).
    pub idle_timeout: Duration,
    /// A started frame must end within this (60 s); also the limit for writing an ACK.
    pub frame_timeout: Duration,
    /// The handler's time per discharge (25 s).
    pub handler_timeout: Duration,
    /// Connections served at once (64); later ones wait to be accepted.
    pub max_connections: usize,
    /// Shared counts: clone them before handing the settings to [`serve`] to watch them.
    pub counters: MllpCounters,
}

impl Default for MllpSettings {
    fn default() -> MllpSettings {
        MllpSettings {
            max_frame_bytes: 1024 * 1024,
            idle_timeout: Duration::from_secs(600),
            frame_timeout: Duration::from_secs(60),
            handler_timeout: Duration::from_secs(25),
            max_connections: 64,
            counters: MllpCounters::default(),
        }
    }
}

/// Live counts of a listener (shared by its clones).
#[derive(Debug, Clone, Default)]
pub struct MllpCounters(Arc<[AtomicU64; 6]>);

/// The counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MllpCounts {
    pub connections: u64,
    /// Discharges handed to the handler.
    pub discharges: u64,
    pub aa: u64,
    pub ae: u64,
    pub ar: u64,
    /// Frames dropped without an answer (cut off, timed out, too large without MSH).
    pub dropped: u64,
}

const CONNECTIONS: usize = 0;
const DISCHARGES: usize = 1;
const AA: usize = 2;
const AE: usize = 3;
const AR: usize = 4;
const DROPPED: usize = 5;

impl MllpCounters {
    fn add(&self, which: usize, n: u64) {
        self.0[which].fetch_add(n, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> MllpCounts {
        let get = |i: usize| self.0[i].load(Ordering::Relaxed);
        MllpCounts {
            connections: get(CONNECTIONS),
            discharges: get(DISCHARGES),
            aa: get(AA),
            ae: get(AE),
            ar: get(AR),
            dropped: get(DROPPED),
        }
    }
}

/// What the listener shares with its connections.
struct Shared<H> {
    settings: MllpSettings,
    handler: Arc<H>,
}

/// Serves MLLP on `listener` until `shutdown` completes: then stops accepting, lets each
/// connection finish the message it is answering, closes them all and returns the counts.
///
/// `handler` is given each discharge and answers `Ok(text)` (AA) or `Err(text)` (AE, ERR
/// 207); texts are Spanish and must not name the patient.
pub async fn serve<H, F>(
    listener: TcpListener,
    settings: MllpSettings,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> MllpCounts
where
    H: Fn(DischargeEvent) -> F + Send + Sync + 'static,
    F: Future<Output = Result<String, String>> + Send + 'static,
{
    let counters = settings.counters.clone();
    let permits = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let shared = Arc::new(Shared {
        settings,
        handler: Arc::new(handler),
    });
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors, a connection reset before accept: wait a
                    // little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        counters.add(CONNECTIONS, 1);
        let (shared, stopped) = (shared.clone(), stopped.clone());
        connections.spawn(async move {
            connection(stream, &shared, stopped).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    counters.snapshot()
}

/// One connection: frames in, ACKs out, until the peer leaves, a limit is hit or the
/// listener stops.
async fn connection<H, F>(
    mut stream: TcpStream,
    shared: &Shared<H>,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(DischargeEvent) -> F + Send + Sync + 'static,
    F: Future<Output = Result<String, String>> + Send + 'static,
{
    let settings = &shared.settings;
    let mut frames = Frames::new(settings.max_frame_bytes);
    let mut buf = vec![0u8; 16 * 1024];
    // The frame under way (by its number) and when it must have ended.
    let mut deadline: Option<(u64, Instant)> = None;
    loop {
        while let Some(frame) = frames.pop() {
            let (reply, last) = match frame {
                Frame::Message(bytes) => (Some(answer(shared, &bytes).await), false),
                Frame::Oversized(start) => (oversized(settings, &start), true),
            };
            if let Some(reply) = reply {
                let written = timeout(settings.frame_timeout, stream.write_all(&reply)).await;
                if !matches!(written, Ok(Ok(()))) || last {
                    return close(stream, &frames, settings).await;
                }
            } else if last {
                settings.counters.add(DROPPED, 1);
                return close(stream, &frames, settings).await;
            }
        }
        if *stop.borrow() {
            break;
        }
        deadline = match deadline {
            _ if !frames.in_frame() => None,
            Some((n, at)) if n == frames.started => Some((n, at)),
            _ => Some((frames.started, Instant::now() + settings.frame_timeout)),
        };
        let wait = deadline.map_or(settings.idle_timeout, |(_, at)| {
            at.saturating_duration_since(Instant::now())
        });
        tokio::select! {
            read = timeout(wait, stream.read(&mut buf)) => match read {
                Ok(Ok(n)) if n > 0 => frames.push(&buf[..n]),
                _ => break,
            },
            _ = stop.changed() => break,
        }
    }
    close(stream, &frames, settings).await;
}

/// Closes a connection, counting the frames it leaves unanswered.
async fn close(mut stream: TcpStream, frames: &Frames, settings: &MllpSettings) {
    let cut = u64::from(frames.in_frame());
    settings.counters.add(DROPPED, frames.abandoned + cut);
    let _ = stream.shutdown().await;
    // Read what the peer still sends for a moment (the rest of an oversized frame): a
    // socket closed with unread bytes resets the connection, and the peer could lose the
    // ACK written just before.
    let mut sink = [0u8; 8192];
    let until = Instant::now() + Duration::from_secs(1);
    let mut left = settings.max_frame_bytes.max(64 * 1024);
    while left > 0 {
        match tokio::time::timeout_at(until, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

/// The framed ACK to one message (the handler consulted for a discharge).
async fn answer<H, F>(shared: &Shared<H>, bytes: &[u8]) -> Vec<u8>
where
    H: Fn(DischargeEvent) -> F + Send + Sync + 'static,
    F: Future<Output = Result<String, String>> + Send + 'static,
{
    let (header, answer) = match hl7v2::receive(bytes) {
        Inbound::Reply { header, answer } => (header, answer),
        Inbound::Discharge { header, event } => {
            shared.settings.counters.add(DISCHARGES, 1);
            (header, handle(shared, event).await)
        }
    };
    framed(&shared.settings, &header, &answer)
}

/// Runs the handler in a task of its own, under the handler timeout.
async fn handle<H, F>(shared: &Shared<H>, event: DischargeEvent) -> Answer
where
    H: Fn(DischargeEvent) -> F + Send + Sync + 'static,
    F: Future<Output = Result<String, String>> + Send + 'static,
{
    let handler = shared.handler.clone();
    let task = tokio::spawn(async move { handler(event).await });
    let abort = task.abort_handle();
    let limit = shared.settings.handler_timeout;
    let or = |text: String, default: &str| match text.trim() {
        "" => default.to_string(),
        t => t.to_string(),
    };
    match timeout(limit, task).await {
        Ok(Ok(Ok(text))) => Answer::accept(or(text, "Alta recibida")),
        Ok(Ok(Err(text))) => Answer::error(207, "", or(text, "No se pudo procesar el alta")),
        Ok(Err(_)) => Answer::error(
            207,
            "",
            "Error interno al procesar el alta; reenviar más tarde",
        ),
        Err(_) => {
            abort.abort();
            let text = format!(
                "El alta no se procesó en {} s; reenviar más tarde",
                limit.as_secs_f64().ceil()
            );
            Answer::error(207, "", text)
        }
    }
}

/// The AR to a frame over the size limit, when its start names the message.
fn oversized(settings: &MllpSettings, start: &[u8]) -> Option<Vec<u8>> {
    let header = Header::of_prefix(start)?;
    let text = format!(
        "El mensaje supera el tamaño máximo de {} bytes",
        settings.max_frame_bytes
    );
    Some(framed(
        settings,
        &header,
        &Answer::reject(207, "MSH^1", text),
    ))
}

/// The ACK in its MLLP frame; counted.
fn framed(settings: &MllpSettings, header: &Header, answer: &Answer) -> Vec<u8> {
    settings.counters.add(
        match answer.code {
            hl7v2::AckCode::AA => AA,
            hl7v2::AckCode::AE => AE,
            hl7v2::AckCode::AR => AR,
        },
        1,
    );
    let body = hl7v2::ack(header, answer);
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(START);
    out.extend_from_slice(&body);
    out.extend_from_slice(&END);
    out
}

/// One frame out of the byte stream.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// A whole message.
    Message(Vec<u8>),
    /// The first `max` bytes of a frame that went over the limit; nothing after it is read.
    Oversized(Vec<u8>),
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
struct Frames {
    max: usize,
    state: State,
    current: Vec<u8>,
    ready: VecDeque<Frame>,
    /// Frames given up when a start block came before their end.
    abandoned: u64,
    /// Frames started so far (the number of the one under way).
    started: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Outside,
    Inside,
    /// After an oversized frame: the connection is done.
    Over,
}

impl Frames {
    fn new(max: usize) -> Frames {
        Frames {
            max,
            state: State::Outside,
            current: Vec::new(),
            ready: VecDeque::new(),
            abandoned: 0,
            started: 0,
        }
    }

    /// Takes bytes as they arrive.
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                State::Over => return,
                State::Outside => match bytes.iter().position(|&b| b == START) {
                    Some(i) => {
                        self.state = State::Inside;
                        self.started += 1;
                        self.current.clear();
                        bytes = &bytes[i + 1..];
                    }
                    None => return,
                },
                State::Inside => {
                    let stop = bytes.iter().position(|&b| b == START || b == END[0]);
                    let (data, marker) = match stop {
                        Some(i) => (&bytes[..i], Some(bytes[i])),
                        None => (bytes, None),
                    };
                    if self.current.len() + data.len() > self.max {
                        let room = self.max - self.current.len();
                        self.current.extend_from_slice(&data[..room]);
                        let start = std::mem::take(&mut self.current);
                        self.ready.push_back(Frame::Oversized(start));
                        self.state = State::Over;
                        return;
                    }
                    self.current.extend_from_slice(data);
                    bytes = &bytes[data.len()..];
                    if let Some(marker) = marker {
                        bytes = &bytes[1..];
                        if marker == START {
                            self.abandoned += 1;
                            self.started += 1;
                            self.current.clear();
                        } else {
                            let message = std::mem::take(&mut self.current);
                            self.ready.push_back(Frame::Message(message));
                            self.state = State::Outside;
                        }
                    }
                }
            }
        }
    }

    /// The next complete frame, in order.
    fn pop(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }

    /// Whether a frame has started and not ended.
    fn in_frame(&self) -> bool {
        self.state == State::Inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> Vec<u8> {
        let mut out = vec![START];
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(&END);
        out
    }

    fn all(frames: &mut Frames) -> Vec<Frame> {
        std::iter::from_fn(|| frames.pop()).collect()
    }

    fn message(body: &str) -> Frame {
        Frame::Message(body.as_bytes().to_vec())
    }

    #[test]
    fn a_frame_split_across_reads_comes_out_whole() {
        let bytes = frame("MSH|^~\\&|A\rPID|1");
        for cut in 0..=bytes.len() {
            let mut frames = Frames::new(1024);
            frames.push(&bytes[..cut]);
            assert_eq!(frames.in_frame(), cut > 0 && cut < bytes.len() - 1, "{cut}");
            frames.push(&bytes[cut..]);
            assert_eq!(all(&mut frames), [message("MSH|^~\\&|A\rPID|1")], "{cut}");
        }
        let mut frames = Frames::new(1024);
        for byte in &bytes {
            frames.push(std::slice::from_ref(byte));
        }
        assert_eq!(all(&mut frames).len(), 1);
    }

    #[test]
    fn two_frames_in_one_read_come_out_in_order() {
        let mut frames = Frames::new(1024);
        let mut bytes = frame("uno");
        bytes.extend(frame("dos"));
        bytes.extend(&frame("tres")[..3]);
        frames.push(&bytes);
        assert_eq!(all(&mut frames), [message("uno"), message("dos")]);
        assert!(frames.in_frame());
        assert_eq!(frames.started, 3, "the frame under way is a new one");
    }

    #[test]
    fn bytes_outside_frames_are_skipped() {
        let mut frames = Frames::new(1024);
        frames.push(b"\r\n basura \x1c\r\x00");
        frames.push(&frame("uno"));
        frames.push(b"\r\r\n");
        // An end block without its carriage return still ends the frame.
        frames.push(b"\x0bdos\x1c\x0btres\x1c\r");
        assert_eq!(
            all(&mut frames),
            [message("uno"), message("dos"), message("tres")]
        );
        assert!(!frames.in_frame());
        assert_eq!(frames.abandoned, 0);
    }

    #[test]
    fn a_start_block_inside_a_frame_abandons_it() {
        let mut frames = Frames::new(1024);
        frames.push(b"\x0bmedio mensaje");
        frames.push(&frame("entero"));
        assert_eq!(all(&mut frames), [message("entero")]);
        assert_eq!(frames.abandoned, 1);
    }

    #[test]
    fn a_frame_over_the_limit_stops_the_stream() {
        let mut frames = Frames::new(8);
        frames.push(&frame("12345678"));
        assert_eq!(all(&mut frames), [message("12345678")]);
        frames.push(b"\x0b12345");
        frames.push(b"6789");
        assert_eq!(all(&mut frames), [Frame::Oversized(b"12345678".to_vec())]);
        frames.push(&frame("uno"));
        assert_eq!(all(&mut frames), []);
        assert!(!frames.in_frame());
    }

    #[test]
    fn an_oversized_frame_gets_an_ar_only_when_its_msh_is_readable() {
        let settings = MllpSettings::default();
        let start = b"MSH|^~\\&|HIS|HOSP|EPI|HOSP|2026||ADT^A03|M-1|P|2.5\rPID|1||";
        let ack = oversized(&settings, start).expect("an AR");
        let text = String::from_utf8(ack).unwrap();
        assert!(
            text.starts_with("\x0bMSH|^~\\&|EPI|HOSP|HIS|HOSP|"),
            "{text:?}"
        );
        assert!(text.contains("\rMSA|AR|M-1|El mensaje supera"), "{text:?}");
        assert!(text.ends_with("^HL70357|E\r\x1c\r"), "{text:?}");
        assert!(oversized(&settings, b"MSH|^~\\&|HIS|HOSP|EPI|HOSP|2026||ADT^A0").is_none());
        assert!(oversized(&settings, b"\x00\x01 nada\r").is_none());
        assert_eq!(settings.counters.snapshot().ar, 1);
    }

    #[test]
    fn random_bytes_never_break_the_framer() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let mut frames = Frames::new(64);
            for _ in 0..(next() % 8) {
                let len = (next() % 100) as usize;
                // Markers are frequent so that frames start, end and overflow.
                let chunk: Vec<u8> = (0..len)
                    .map(|_| match next() % 10 {
                        0 => START,
                        1 => END[0],
                        _ => next() as u8,
                    })
                    .collect();
                frames.push(&chunk);
                while let Some(frame) = frames.pop() {
                    let (Frame::Message(b) | Frame::Oversized(b)) = frame;
                    assert!(b.len() <= 64 && !b.contains(&START) && !b.contains(&END[0]));
                }
            }
        }
    }
}
