//! The answers: what each message gets (AA, AE, AR) and the ACK that carries it.

use super::{DischargeEvent, Header, Message, ParseError, escape};
use std::sync::atomic::{AtomicU64, Ordering};

/// MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept.
    AA,
    /// Application error.
    AE,
    /// Application reject.
    AR,
}

/// An ERR segment: HL7 table 0357 code and ERL location (`PV1^1^19`, may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    pub code: u16,
    pub location: String,
}

/// The answer to one message, before it is written as an ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: AckCode,
    /// Spanish, no patient data.
    pub text: String,
    pub error: Option<AckError>,
}

impl Answer {
    pub fn accept(text: impl Into<String>) -> Answer {
        Answer {
            code: AckCode::AA,
            text: text.into(),
            error: None,
        }
    }
    /// AE with a table 0357 code.
    pub fn error(code: u16, location: &str, text: impl Into<String>) -> Answer {
        Answer::failed(AckCode::AE, code, location, text.into())
    }
    /// AR with a table 0357 code.
    pub fn reject(code: u16, location: &str, text: impl Into<String>) -> Answer {
        Answer::failed(AckCode::AR, code, location, text.into())
    }
    fn failed(code: AckCode, error: u16, location: &str, text: String) -> Answer {
        let location = location.to_string();
        Answer {
            code,
            text,
            error: Some(AckError {
                code: error,
                location,
            }),
        }
    }
}

/// What a message asks of the listener.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// An ADT^A03 with a visit number: the handler decides the answer.
    Discharge {
        header: Header,
        event: DischargeEvent,
    },
    /// Anything else, answered at once.
    Reply { header: Header, answer: Answer },
}

/// Reads one message (an MLLP frame's content) and says what to do with it.
pub fn receive(bytes: &[u8]) -> Inbound {
    let message = match Message::parse_bytes(bytes) {
        Ok(message) => message,
        Err(e) => {
            let (code, location) = match e {
                ParseError::NoMsh => (100, ""),
                ParseError::ShortMsh => (101, "MSH^1^9"),
                ParseError::BadEncoding(_) => (102, "MSH^1^2"),
            };
            let answer = Answer::reject(code, location, e.to_string());
            let header = Header::default();
            return Inbound::Reply { header, answer };
        }
    };
    let header = Header::of(&message);
    let reply = |answer| Inbound::Reply {
        header: header.clone(),
        answer,
    };
    if header.message_type.is_empty() {
        let text = "Falta el tipo de mensaje (MSH-9)";
        return reply(Answer::reject(101, "MSH^1^9", text));
    }
    if !header.message_type.eq_ignore_ascii_case("ADT") {
        let text = format!(
            "Tipo de mensaje {} no admitido: solo se reciben ADT",
            clip(&header.message_type, 10)
        );
        return reply(Answer::reject(200, "MSH^1^9", text));
    }
    if header.trigger.is_empty() {
        let text = "Falta el evento ADT (MSH-9.2 o EVN-1)";
        return reply(Answer::reject(101, "MSH^1^9^1^2", text));
    }
    if !header.trigger.eq_ignore_ascii_case("A03") {
        let text = format!(
            "ADT^{} aceptado sin acción: solo ADT^A03 genera borradores",
            clip(&header.trigger, 10)
        );
        return reply(Answer::accept(text));
    }
    match discharge(&message, &header) {
        Some(event) => Inbound::Discharge { header, event },
        None => {
            let text = "Falta el número de visita (PV1-19): no se sabe qué episodio leer";
            reply(Answer::error(101, "PV1^1^19", text))
        }
    }
}

/// The discharge an A03 describes; `None` without PV1-19.
fn discharge(message: &Message, header: &Header) -> Option<DischargeEvent> {
    let pv1 = message.segment("PV1")?;
    let visit_number = pv1.component(19, 1).trim().to_string();
    if visit_number.is_empty() {
        return None;
    }
    let discharged_at = Some(pv1.component(45, 1).trim().to_string()).filter(|d| !d.is_empty());
    let patient_id = message
        .segment("PID")
        .map(|pid| pid.component(3, 1).trim().to_string())
        .unwrap_or_default();
    let name = |hd: &[String]| {
        hd.iter()
            .find(|c| !c.is_empty())
            .cloned()
            .unwrap_or_default()
    };
    Some(DischargeEvent {
        control_id: header.control_id.clone(),
        version: header.version.clone(),
        sending_application: name(&header.sending_application),
        sending_facility: name(&header.sending_facility),
        visit_number,
        discharged_at,
        patient_id,
    })
}

/// The ACK to a message, in the message's character set (without MLLP framing).
pub fn ack(header: &Header, answer: &Answer) -> Vec<u8> {
    let text = ack_text(
        header,
        answer,
        time::OffsetDateTime::now_utc(),
        &new_control_id(),
    );
    header.charset.encode(&text)
}

/// The ACK's text at a given time and with a given control id.
pub fn ack_text(
    header: &Header,
    answer: &Answer,
    now: time::OffsetDateTime,
    control_id: &str,
) -> String {
    let hd = |parts: &[String]| {
        parts
            .iter()
            .map(|p| escape(p))
            .collect::<Vec<_>>()
            .join("^")
    };
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default();
    let kind = match header.trigger.as_str() {
        "" => "ACK".to_string(),
        t => format!("ACK^{}^ACK", escape(t)),
    };
    let processing = match hd(&header.processing_id) {
        p if p.is_empty() => "P".to_string(),
        p => p,
    };
    let version = match header.version.as_str() {
        "" => "2.5".to_string(),
        v => escape(v),
    };
    let mut out = format!(
        "MSH|^~\\&|{}|{}|{}|{}|{stamp}+0000||{kind}|{}|{processing}|{version}",
        hd(&header.receiving_application),
        hd(&header.receiving_facility),
        hd(&header.sending_application),
        hd(&header.sending_facility),
        escape(control_id),
    );
    if !header.character_set.is_empty() {
        out.push_str("||||||");
        out.push_str(&escape(&header.character_set));
    }
    let code = format!("{:?}", answer.code);
    let msa_text = escape(&clip(&answer.text, 80));
    out.push_str(&format!(
        "\rMSA|{code}|{}|{msa_text}\r",
        escape(&header.control_id)
    ));
    if let Some(err) = &answer.error {
        out.push_str(&format!(
            "ERR||{}|{}^{}^HL70357|E\r",
            err.location,
            err.code,
            escape(&clip(&answer.text, 199))
        ));
    }
    out
}

/// A control id for an ACK: unique in this process and unlikely to repeat across
/// restarts (milliseconds, process id, counter); at most 20 characters (v2.5's MSH-10).
pub fn new_control_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 0x10000;
    let pid = std::process::id() % 0x1000;
    format!("E{:x}{pid:03x}{n:04x}", millis.max(0))
}

/// At most `max` characters of `text` (an ellipsis marks the cut).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
