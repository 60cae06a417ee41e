//! The answer's stream: server-sent events read line by line, what each event means
//! ([`Chunk`]), and what a stream has given so far ([`Streamed`]: the text passed on up
//! to a stop string, a loop or the token limit, and the figures).

use crate::generator::{Event, GenerationRequest, GenerationStats, StopMatcher, StopReason};
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::time::Instant;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Reads server-sent events line by line (`event:`, `data:`, blank line ends an event,
/// `:` comments ignored).
pub struct SseReader<R> {
    lines: BufReader<R>,
    /// True once the body ended (cleanly or not).
    pub ended: bool,
}

impl<R: Read> SseReader<R> {
    pub fn new(r: R) -> Self {
        SseReader {
            lines: BufReader::new(r),
            ended: false,
        }
    }

    /// The next event; `Ok(None)` at the end of the body.
    pub fn next_event(&mut self) -> std::io::Result<Option<SseEvent>> {
        let mut ev = SseEvent::default();
        let mut has = false;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = self.lines.read_until(b'\n', &mut buf)?;
            if n == 0 {
                self.ended = true;
                return Ok(has.then_some(ev));
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if has {
                    return Ok(Some(ev));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => {
                    ev.event = Some(value.to_string());
                    has = true;
                }
                "data" => {
                    if !ev.data.is_empty() {
                        ev.data.push('\n');
                    }
                    ev.data.push_str(value);
                    has = true;
                }
                _ => {}
            }
        }
    }
}

/// What one event of the stream means.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Text(String),
    Usage {
        prompt_tokens: Option<u32>,
        completion_tokens: Option<u32>,
    },
    /// The model stopped for this reason (the stream may still send usage).
    Finish {
        reason: StopReason,
        completion_tokens: Option<u32>,
    },
    /// The stream's own end marker (`[DONE]`, `message_stop`).
    End,
    /// Nothing of interest (pings, role deltas).
    Nothing,
}

/// What a stream has given so far.
pub(super) struct Streamed {
    t0: Instant,
    t_first: Instant,
    pub(super) stats: GenerationStats,
    stop: StopMatcher,
    loops: crate::loops::LoopGuard,
    /// Characters received.
    pub(super) received: usize,
    /// Text pieces received (the token count when the provider gives none).
    pieces: u32,
    pub(super) finish: Option<StopReason>,
    first_text: Option<Instant>,
}

/// What to do after a chunk.
pub(super) enum Flow {
    More,
    End,
    /// The caller went away.
    Gone,
}

impl Streamed {
    pub(super) fn new(request: &GenerationRequest, t0: Instant) -> Streamed {
        Streamed {
            t0,
            t_first: Instant::now(),
            stats: GenerationStats::default(),
            stop: StopMatcher::new(&request.settings.stop),
            loops: crate::loops::LoopGuard::new(request.settings.loop_words),
            received: 0,
            pieces: 0,
            finish: None,
            first_text: None,
        }
    }

    pub(super) fn take(&mut self, chunk: Chunk, tx: &mpsc::Sender<Event>, max_tokens: u32) -> Flow {
        match chunk {
            Chunk::Text(t) if t.is_empty() => Flow::More,
            Chunk::Text(t) => self.text(&t, tx, max_tokens),
            Chunk::Usage {
                prompt_tokens,
                completion_tokens,
            } => {
                if let Some(p) = prompt_tokens {
                    self.stats.prompt_tokens = p;
                }
                if let Some(c) = completion_tokens {
                    self.stats.generated_tokens = c;
                }
                Flow::More
            }
            Chunk::Finish {
                reason,
                completion_tokens,
            } => {
                self.finish = Some(reason);
                if let Some(c) = completion_tokens {
                    self.stats.generated_tokens = c;
                }
                Flow::More
            }
            Chunk::End => {
                if self.finish.is_none() {
                    self.finish = Some(StopReason::EndOfText);
                }
                Flow::End
            }
            Chunk::Nothing => Flow::More,
        }
    }

    /// Words of the answer: passed on up to a stop string, a loop or the token limit.
    fn text(&mut self, t: &str, tx: &mpsc::Sender<Event>, max_tokens: u32) -> Flow {
        if self.first_text.is_none() {
            let first = Instant::now();
            self.first_text = Some(first);
            self.stats.prompt_ms = self.t_first.duration_since(self.t0).as_secs_f64() * 1e3
                + first.duration_since(self.t_first).as_secs_f64() * 1e3;
        }
        self.received += t.chars().count();
        self.pieces += 1;
        let (out, hit) = self.stop.push(t);
        let looped = self.loops.push(&out).is_some();
        if !out.is_empty() && tx.send(Event::Text(out)).is_err() {
            return Flow::Gone;
        }
        if hit || looped || self.pieces >= max_tokens {
            self.finish = Some(if hit {
                StopReason::StopString
            } else if looped {
                StopReason::Repetition
            } else {
                StopReason::MaxTokens
            });
            return Flow::End;
        }
        Flow::More
    }

    /// The end: what the stop matcher held back (unless a stop string or a loop ended
    /// the answer), then the figures.
    pub(super) fn end(mut self, tx: &mpsc::Sender<Event>) {
        if !matches!(
            self.finish,
            Some(StopReason::StopString | StopReason::Repetition)
        ) {
            let rest = self.stop.finish();
            if !rest.is_empty() {
                let _ = tx.send(Event::Text(rest));
            }
        }
        if self.stats.generated_tokens == 0 {
            self.stats.generated_tokens = self.pieces;
        }
        self.stats.generation_ms = self
            .first_text
            .map(|f| f.elapsed().as_secs_f64() * 1e3)
            .unwrap_or(0.0);
        self.stats.stop_reason = self.finish;
        let _ = tx.send(Event::Done(self.stats));
    }
}
