//! HL7 v2 messages: reading ER7 (the `|^~\&` text form) and answering with ACKs.
//!
//! # Reading
//!
//! Segments are separated by `\r` (`\n` and `\r\n` are accepted too). The field separator
//! is MSH-1 and the encoding characters (component, repetition, escape, subcomponent) are
//! MSH-2, both taken from the message itself; an empty MSH-2 means the usual `^~\&`, and a
//! shorter one leaves the missing characters unused. Fields are numbered as HL7 does: MSH-1
//! is the separator itself and MSH-2 the encoding characters; in other segments field 1 is
//! the first after the segment id. Values are decoded: `\F\ \S\ \T\ \R\ \E\` become the
//! separators, `\Xhh…\` the bytes it spells; other sequences (`\H\`, `\.br\`) stay as text.
//! The bytes are read as MSH-18 says (`8859/1` → ISO-8859-1, `UNICODE UTF-8`); without
//! MSH-18, as UTF-8 when they are valid UTF-8 and as ISO-8859-1 otherwise. The ACK is
//! written in the same character set and copies MSH-18. Nothing here panics, whatever the
//! bytes.
//!
//! # Answering (original-mode ACKs)
//!
//! | The message                                       | MSA-1 | ERR-3 (table 0357), ERR-2 |
//! |---------------------------------------------------|-------|---------------------------|
//! | not HL7, no MSH first (MSA-2 empty)               | AR    | 100 segment sequence error |
//! | MSH-2 encoding characters unusable                | AR    | 102 data type error, `MSH^1^2` |
//! | MSH without MSH-9, or MSH-9.1 empty               | AR    | 101 required field missing, `MSH^1^9` |
//! | message type other than ADT (ORU, ORM, ACK…)      | AR    | 200 unsupported message type, `MSH^1^9` |
//! | ADT without trigger event (MSH-9.2 nor EVN-1)     | AR    | 101, `MSH^1^9^1^2` |
//! | ADT event other than A03 (A01, A08, A13…)         | AA    | none; MSA-3 says it is accepted without action |
//! | A03 without visit number PV1-19                   | AE    | 101, `PV1^1^19` |
//! | A03 the handler could not process                 | AE    | 207 application internal error, with the handler's text |
//! | A03 handled                                       | AA    | none |
//! | frame over the size limit (from `mllp`)           | AR    | 207, `MSH^1` |
//!
//! AR means "do not send it again": the message will never be understood. AE means the
//! message was understood but not processed; for 207 resending later may work (the source
//! was down), for 101 it will not. Only A03 makes drafts: every other ADT event is
//! acknowledged with AA so that the interface engine neither retries nor raises alerts.
//!
//! The ACK: MSH with sending and receiving application and facility swapped, MSH-7 now in
//! UTC (`YYYYMMDDHHMMSS+0000`), MSH-9 `ACK^<trigger>^ACK`, a new MSH-10, MSH-11 and MSH-12
//! copied (`P`, `2.5` by default); then `MSA|<code>|<MSH-10 of the message>|<text>` (text
//! cut at 80 characters) and for AE/AR `ERR||<location>|<code>^<text>^HL70357|E` (text cut
//! at 199). Texts are Spanish, escaped, and never hold patient identifiers: the handler's
//! texts must not either.

use std::fmt;

mod ack;
pub use ack::{AckCode, AckError, Answer, Inbound, ack, ack_text, new_control_id, receive};

/// Why a message could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The first segment is not MSH (or there is nothing).
    #[error("El mensaje no es HL7 v2: no empieza con un segmento MSH")]
    NoMsh,
    /// The MSH segment ends before MSH-9 (the message type).
    #[error("El segmento MSH está incompleto: termina antes del tipo de mensaje (MSH-9)")]
    ShortMsh,
    /// MSH-1 or MSH-2 cannot be used as separators.
    #[error("Los caracteres de codificación (MSH-1, MSH-2) no sirven: {0}")]
    BadEncoding(&'static str),
}

/// The separators of one message (MSH-1 and MSH-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub field: char,
    pub component: char,
    pub repetition: Option<char>,
    pub escape: Option<char>,
    pub subcomponent: Option<char>,
}

impl Default for Encoding {
    fn default() -> Encoding {
        Encoding {
            field: '|',
            component: '^',
            repetition: Some('~'),
            escape: Some('\\'),
            subcomponent: Some('&'),
        }
    }
}

impl Encoding {
    /// From MSH-1 and MSH-2 (empty: `^~\&`; a fifth character, v2.7's truncation, is
    /// ignored).
    fn from_msh(field: char, chars: &str) -> Result<Encoding, ParseError> {
        let usable = |c: char| c.is_ascii_punctuation();
        if !usable(field) {
            return Err(ParseError::BadEncoding(
                "MSH-1 no es un signo de puntuación",
            ));
        }
        if chars.is_empty() {
            return Ok(Encoding {
                field,
                ..Encoding::default()
            });
        }
        let list: Vec<char> = chars.chars().collect();
        if list.len() > 5 || !list.iter().all(|&c| usable(c)) {
            return Err(ParseError::BadEncoding("MSH-2 debe tener hasta 5 signos"));
        }
        let mut seen = vec![field];
        for &c in &list {
            if seen.contains(&c) {
                return Err(ParseError::BadEncoding("hay separadores repetidos"));
            }
            seen.push(c);
        }
        Ok(Encoding {
            field,
            component: list[0],
            repetition: list.get(1).copied(),
            escape: list.get(2).copied(),
            subcomponent: list.get(3).copied(),
        })
    }
}

/// How the message's bytes are (and its ACK's will be) encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    #[default]
    Utf8,
    Latin1,
}

impl Charset {
    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Latin1 => bytes.iter().map(|&b| b as char).collect(),
        }
    }
    /// The text in this character set (`?` for what ISO-8859-1 lacks).
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Charset::Utf8 => text.as_bytes().to_vec(),
            Charset::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
        }
    }
    /// What MSH-18 declares, if it is one of these.
    fn declared(msh18: &str) -> Option<Charset> {
        let name = msh18.trim().to_ascii_uppercase();
        if name.starts_with("8859") {
            Some(Charset::Latin1)
        } else if name.contains("UTF-8") || name == "ASCII" {
            Some(Charset::Utf8)
        } else {
            None
        }
    }
}

/// One segment: its id and its fields as sent (still escaped).
#[derive(Clone)]
pub struct Segment {
    id: String,
    /// `fields[n - 1]` is field n (for MSH, field 1 is the separator).
    fields: Vec<String>,
    enc: Encoding,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Segment({}, {} fields)", self.id, self.fields.len())
    }
}

impl Segment {
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Field `n` as sent (1-based, HL7 numbering), escapes and separators included.
    pub fn raw(&self, n: usize) -> Option<&str> {
        self.fields.get(n.checked_sub(1)?).map(String::as_str)
    }
    /// Repetition `rep`, component `comp`, subcomponent `sub` of field `n` (all 1-based),
    /// decoded; `None` when absent.
    pub fn value(&self, n: usize, rep: usize, comp: usize, sub: usize) -> Option<String> {
        let field = self.raw(n)?;
        let e = self.enc;
        let piece = |text: &str, sep: Option<char>, i: usize| -> Option<String> {
            match sep {
                Some(s) => text.split(s).nth(i.checked_sub(1)?).map(str::to_string),
                None => (i == 1).then(|| text.to_string()),
            }
        };
        let r = piece(field, e.repetition, rep)?;
        let c = piece(&r, Some(e.component), comp)?;
        let s = piece(&c, e.subcomponent, sub)?;
        Some(unescape(&s, &e))
    }
    /// Component `comp` of the first repetition of field `n`, decoded; empty when absent.
    pub fn component(&self, n: usize, comp: usize) -> String {
        self.value(n, 1, comp, 1).unwrap_or_default()
    }
    /// Every component of the first repetition of field `n`, decoded (subcomponents after
    /// the first are left out); empty when the field is absent.
    pub fn components(&self, n: usize) -> Vec<String> {
        let Some(field) = self.raw(n) else {
            return Vec::new();
        };
        let e = self.enc;
        let first = |text: &str, sep: Option<char>| match sep {
            Some(s) => text.split(s).next().unwrap_or("").to_string(),
            None => text.to_string(),
        };
        first(field, e.repetition)
            .split(e.component)
            .map(|c| unescape(&first(c, e.subcomponent), &e))
            .collect()
    }
}

/// A parsed message. Its `Debug` shows segment ids only: the fields hold patient data.
#[derive(Clone)]
pub struct Message {
    segments: Vec<Segment>,
    enc: Encoding,
    charset: Charset,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.segments.iter().map(|s| s.id.as_str()).collect();
        write!(f, "Message({})", ids.join(" "))
    }
}

impl Message {
    /// Reads a message from its bytes (character set from MSH-18, else detected).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Message, ParseError> {
        let first = bytes.split(|&b| b == b'\r' || b == b'\n').next();
        let declared = first
            .map(|line| Charset::Latin1.decode(line))
            .and_then(|line| parse_msh(&line).ok())
            .and_then(|msh| Charset::declared(&msh.component(18, 1)));
        let charset = declared.unwrap_or(match std::str::from_utf8(bytes) {
            Ok(_) => Charset::Utf8,
            Err(_) => Charset::Latin1,
        });
        let mut message = Message::parse(&charset.decode(bytes))?;
        message.charset = charset;
        Ok(message)
    }

    /// Reads a message from text.
    pub fn parse(text: &str) -> Result<Message, ParseError> {
        let text = text.trim_start_matches(['\u{feff}', '\r', '\n', ' ', '\t']);
        let mut lines = text.split(['\r', '\n']).filter(|l| !l.is_empty());
        let msh = parse_msh(lines.next().ok_or(ParseError::NoMsh)?)?;
        let enc = msh.enc;
        let mut segments = vec![msh];
        for line in lines {
            let mut parts = line.split(enc.field);
            let id = parts.next().unwrap_or("").to_string();
            let fields = parts.map(str::to_string).collect();
            segments.push(Segment { id, fields, enc });
        }
        Ok(Message {
            segments,
            enc,
            charset: Charset::default(),
        })
    }

    pub fn encoding(&self) -> Encoding {
        self.enc
    }
    pub fn charset(&self) -> Charset {
        self.charset
    }
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
    /// The first segment with this id.
    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }
    /// The MSH segment (always the first).
    pub fn msh(&self) -> &Segment {
        &self.segments[0]
    }
}

/// The MSH segment alone, from its line.
fn parse_msh(line: &str) -> Result<Segment, ParseError> {
    let rest = line.strip_prefix("MSH").ok_or(ParseError::NoMsh)?;
    let mut chars = rest.chars();
    let field = chars.next().ok_or(ParseError::ShortMsh)?;
    if field.is_ascii_alphanumeric() {
        return Err(ParseError::NoMsh);
    }
    let after = chars.as_str();
    let encoding_chars = after.split(field).next().unwrap_or("");
    let enc = Encoding::from_msh(field, encoding_chars)?;
    let mut fields = vec![field.to_string()];
    fields.extend(after.split(field).map(str::to_string));
    if fields.len() < 9 {
        return Err(ParseError::ShortMsh);
    }
    Ok(Segment {
        id: "MSH".into(),
        fields,
        enc,
    })
}

/// Decodes the escape sequences of one value.
pub fn unescape(text: &str, enc: &Encoding) -> String {
    let Some(esc) = enc.escape else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(esc) {
        out.push_str(&rest[..start]);
        let after = &rest[start + esc.len_utf8()..];
        let Some(end) = after.find(esc) else {
            // An escape character that opens nothing: text.
            out.push_str(&rest[start..]);
            return out;
        };
        let body = &after[..end];
        match escape_sequence(body, enc) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 * esc.len_utf8() + end]),
        }
        rest = &after[end + esc.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The text of one escape sequence's body (between the escape characters), if known.
fn escape_sequence(body: &str, enc: &Encoding) -> Option<String> {
    let one = |c: Option<char>| c.map(String::from);
    match body {
        "F" => Some(enc.field.to_string()),
        "S" => Some(enc.component.to_string()),
        "T" => one(enc.subcomponent),
        "R" => one(enc.repetition),
        "E" => one(enc.escape),
        _ => {
            let hex = body.strip_prefix('X')?;
            if hex.is_empty() || hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            Some(match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => Charset::Latin1.decode(e.as_bytes()),
            })
        }
    }
}

/// Escapes text for a value with the usual separators `|^~\&`; control characters
/// (a `\r` would end the segment) become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What the MSH of a message says that the ACK needs: no patient data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// MSH-3 to MSH-6, decoded components (HD: namespace^universal id^type).
    pub sending_application: Vec<String>,
    pub sending_facility: Vec<String>,
    pub receiving_application: Vec<String>,
    pub receiving_facility: Vec<String>,
    /// MSH-9.1 (`ADT`).
    pub message_type: String,
    /// MSH-9.2, or EVN-1 when MSH-9.2 is empty (`A03`).
    pub trigger: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-11 components (`P`).
    pub processing_id: Vec<String>,
    /// MSH-12.1 (`2.5`).
    pub version: String,
    /// MSH-18 as sent (empty when absent).
    pub character_set: String,
    pub charset: Charset,
}

impl Header {
    fn of(message: &Message) -> Header {
        let msh = message.msh();
        let mut trigger = msh.component(9, 2);
        if trigger.is_empty() {
            trigger = message
                .segment("EVN")
                .map(|evn| evn.component(1, 1))
                .unwrap_or_default();
        }
        Header {
            sending_application: msh.components(3),
            sending_facility: msh.components(4),
            receiving_application: msh.components(5),
            receiving_facility: msh.components(6),
            message_type: msh.component(9, 1).trim().to_string(),
            trigger: trigger.trim().to_string(),
            control_id: msh.component(10, 1),
            processing_id: msh.components(11),
            version: msh.component(12, 1),
            character_set: msh.component(18, 1),
            charset: message.charset,
        }
    }

    /// The header of a message of which only the start is known (a frame over the size
    /// limit): `None` unless its first segment, complete, is a readable MSH.
    pub fn of_prefix(bytes: &[u8]) -> Option<Header> {
        let end = bytes.iter().position(|&b| b == b'\r' || b == b'\n')?;
        Message::parse_bytes(&bytes[..end])
            .ok()
            .map(|m| Header::of(&m))
    }
}

/// A discharge (ADT^A03) naming the episode to read. Its `Debug` hides the patient
/// identifier.
#[derive(Clone, PartialEq, Eq)]
pub struct DischargeEvent {
    /// MSH-10.
    pub control_id: String,
    /// MSH-12.
    pub version: String,
    /// MSH-3 and MSH-4 (first non-empty component).
    pub sending_application: String,
    pub sending_facility: String,
    /// PV1-19.1, the episode key handed to the source.
    pub visit_number: String,
    /// PV1-45 as sent (`YYYYMMDDHHMM[SS]`), when present.
    pub discharged_at: Option<String>,
    patient_id: String,
}

impl DischargeEvent {
    /// PID-3.1 of the first repetition (empty when absent). Kept in memory only: never
    /// write it to a log or a message.
    pub fn patient_id(&self) -> &str {
        &self.patient_id
    }
}

impl fmt::Debug for DischargeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patient = match self.patient_id.chars().count() {
            0 => "(none)".to_string(),
            n => format!("(set, {n} characters)"),
        };
        let (from, to) = (&self.sending_application, &self.sending_facility);
        write!(
            f,
            "DischargeEvent {{ control_id: {:?}, version: {:?}, from: {from:?}/{to:?}, \
             visit_number: {:?}, discharged_at: {:?}, patient_id: {patient} }}",
            self.control_id, self.version, self.visit_number, self.discharged_at
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic message (invented patient, RUT-like id) with PV1-19 and PV1-45.
    fn message(kind: &str, visit: &str) -> String {
        let mut pv1 = vec![""; 45];
        (pv1[0], pv1[1], pv1[18], pv1[44]) = ("1", "I", visit, "202603121000");
        format!(
            "MSH|^~\\&|HIS^1.2.3^ISO|HOSP_SUR|EPICRISIS|HOSP_SUR|20260312101500||{kind}|M-17|P|2.5\r\
             EVN|A03|20260312101500\r\
             PID|1||11111111-1^^^RUT^NI~H-77^^^HOSP^MR||Pérez Soto^Ana\rPV1|{}\r",
            pv1.join("|")
        )
    }

    /// The ACK to `text` read back, as `MSA-1|MSA-2|ERR-3.1|ERR-2`.
    fn answered(text: &str) -> String {
        let (header, answer) = match receive(text.as_bytes()) {
            Inbound::Reply { header, answer } => (header, answer),
            Inbound::Discharge { header, .. } => (header, Answer::accept("ok")),
        };
        let ack = String::from_utf8(ack(&header, &answer)).unwrap();
        let ack = Message::parse(&ack).unwrap();
        let msa = ack.segment("MSA").unwrap();
        assert!(!msa.component(3, 1).is_empty(), "a text");
        let err = |n| ack.segment("ERR").and_then(|e| e.raw(n)).unwrap_or("");
        let code = err(3).split('^').next().unwrap_or("");
        let (a, b) = (msa.component(1, 1), msa.component(2, 1));
        format!("{a}|{b}|{code}|{}", err(2))
    }

    #[test]
    fn fields_repetitions_and_components_are_numbered_as_hl7_does() {
        let m = Message::parse(&message("ADT^A03^ADT_A03", "V-2026-0042")).unwrap();
        let msh = m.msh();
        assert_eq!((msh.raw(1), msh.raw(2)), (Some("|"), Some("^~\\&")));
        assert_eq!(msh.components(3), ["HIS", "1.2.3", "ISO"]);
        assert_eq!(msh.component(9, 3), "ADT_A03");
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.value(3, 2, 1, 1).as_deref(), Some("H-77"));
        assert_eq!(pid.value(3, 3, 1, 1), None);
        assert_eq!(pid.component(5, 2), "Ana");
        assert_eq!(m.segment("PV1").unwrap().component(19, 1), "V-2026-0042");
        assert!(m.segment("ZZZ").is_none());
        assert_eq!(m.encoding(), Encoding::default());
    }

    #[test]
    fn separators_come_from_the_message_and_line_ends_vary() {
        let text = "MSH#$*@%#A#B#C#D#2026##ADT$A08#1#P\nPID#1##X1$Y%Z*X2##a@F@b@S@c\r\nPV1#1\r\r";
        let m = Message::parse(text).unwrap();
        assert_eq!(
            (m.msh().raw(1), m.msh().component(9, 2)),
            (Some("#"), "A08".into())
        );
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.value(3, 1, 2, 2).as_deref(), Some("Z"));
        assert_eq!(pid.value(3, 2, 1, 1).as_deref(), Some("X2"));
        assert_eq!(pid.component(5, 1), "a#b$c");
        let ids: Vec<&str> = m.segments().iter().map(Segment::id).collect();
        assert_eq!(ids, ["MSH", "PID", "PV1"]);
        let empty = Message::parse("MSH||A|B|C|D|||ADT^A03|1").unwrap();
        assert_eq!(empty.encoding(), Encoding::default());
    }

    #[test]
    fn escapes_are_decoded_and_unknown_ones_kept() {
        let e = Encoding::default();
        assert_eq!(unescape("\\F\\\\S\\\\T\\\\R\\\\E\\", &e), "|^&~\\");
        assert_eq!(unescape("A\\X41C3B1\\B", &e), "AAñB");
        assert_eq!(unescape("\\XE9\\", &e), "é");
        for kept in [
            "\\H\\negrita\\N\\ \\.br\\",
            "\\XZZ\\ \\X1\\ a\\b",
            "\\ZZ\\F\\",
        ] {
            assert_eq!(unescape(kept, &e), kept);
        }
        let text = "a|b^c~d\\e&f";
        assert_eq!(escape(text), "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f");
        assert_eq!(unescape(&escape(text), &e), text);
        assert_eq!(escape("uno\rdos\n"), "uno dos ");
    }

    #[test]
    fn what_is_not_a_message_is_a_typed_error() {
        let error = |text: &str| Message::parse(text).unwrap_err();
        for text in ["", "\r\n", "PID|1", "hola", "MSHa|b", "FHS|^~\\&"] {
            assert_eq!(error(text), ParseError::NoMsh, "{text:?}");
        }
        for text in ["MSH", "MSH|", "MSH|^~\\&|A|B|C|D|2026|"] {
            assert_eq!(error(text), ParseError::ShortMsh, "{text:?}");
        }
        for text in [
            "MSH|^^\\&|",
            "MSH|^~\\&x|",
            "MSH|^~\\&^|",
            "MSH\u{e9}^~\\&|",
        ] {
            let text = format!("{text}A|B|C|D|||ADT|1");
            let err = error(&text);
            assert!(
                matches!(err, ParseError::BadEncoding(_)),
                "{text:?}: {err:?}"
            );
        }
    }

    #[test]
    fn the_character_set_is_declared_or_detected() {
        let latin = b"MSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.5\rPID|1||X||Mu\xf1oz\r";
        let m = Message::parse_bytes(latin).unwrap();
        assert_eq!(m.charset(), Charset::Latin1);
        assert_eq!(m.segment("PID").unwrap().component(5, 1), "Muñoz");
        let utf8 = "MSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.5\rPID|1||X||Muñoz\r";
        let m = Message::parse_bytes(utf8.as_bytes()).unwrap();
        assert_eq!(m.charset(), Charset::Utf8);
        let declared = b"MSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.5||||||8859/1\r";
        let Inbound::Reply { header, answer } = receive(declared) else {
            panic!("A08 is answered at once")
        };
        assert_eq!(header.charset, Charset::Latin1);
        let ack = ack(&header, &answer);
        assert!(ack.contains(&0xF3), "«acción» in ISO-8859-1");
        assert!(String::from_utf8_lossy(&ack).contains("||||||8859/1\rMSA|AA|1|"));
    }

    #[test]
    fn an_a03_names_its_visit_in_every_accepted_shape() {
        for (kind, visit) in [
            ("ADT^A03", "V-1"),
            ("ADT^A03^ADT_A03", "V-2^^^HOSP^VN"),
            ("ADT", "V-3"),
        ] {
            let text = message(kind, visit);
            let Inbound::Discharge { header, event } = receive(text.as_bytes()) else {
                panic!("{kind}: not a discharge")
            };
            assert_eq!(header.trigger, "A03");
            assert_eq!(event.visit_number, &visit[..3]);
            assert_eq!(
                (event.control_id.as_str(), event.version.as_str()),
                ("M-17", "2.5")
            );
            let from = (
                event.sending_application.as_str(),
                event.sending_facility.as_str(),
            );
            assert_eq!(from, ("HIS", "HOSP_SUR"));
            assert_eq!(event.discharged_at.as_deref(), Some("202603121000"));
            assert_eq!(event.patient_id(), "11111111-1");
            let debug = format!("{event:?} {:?}", Message::parse(&text).unwrap());
            assert!(
                !debug.contains("11111111") && !debug.contains("Pérez"),
                "{debug}"
            );
            assert!(debug.contains("(set, 10 characters)"), "{debug}");
        }
    }

    #[test]
    fn each_kind_of_message_gets_its_answer() {
        let no_event = message("ADT", "V-1").replace("EVN|A03", "EVN|");
        let no_pv1 = message("ADT^A03", "V-1").replace("PV1|", "ZPV|");
        let cases = [
            ("\u{1}\u{2}basura".to_string(), "AR||100|"),
            ("MSH|^~\\&|A|B".into(), "AR||101|MSH^1^9"),
            ("MSH|^^\\&|A|B|C|D|||ADT^A03|1".into(), "AR||102|MSH^1^2"),
            (
                "MSH|^~\\&|A|B|C|D|||^A03|M-17".into(),
                "AR|M-17|101|MSH^1^9",
            ),
            (message("ORU^R01", "V-1"), "AR|M-17|200|MSH^1^9"),
            (no_event, "AR|M-17|101|MSH^1^9^1^2"),
            (message("ADT^A08", "V-1"), "AA|M-17||"),
            (message("ADT^A03", ""), "AE|M-17|101|PV1^1^19"),
            (no_pv1, "AE|M-17|101|PV1^1^19"),
            (message("ADT^A03", "V-1"), "AA|M-17||"),
        ];
        for (text, expected) in cases {
            assert_eq!(answered(&text), expected, "{text:?}");
        }
        let Inbound::Reply { answer, .. } = receive(message("ADT^A13", "V-1").as_bytes()) else {
            panic!("A13 is answered at once")
        };
        assert!(
            answer.text.contains("A13 aceptado sin acción"),
            "{}",
            answer.text
        );
    }
}
