//! Small builders for GBNF grammars ([`crate::SamplingSettings::grammar`]), llama.cpp's
//! format: `root ::= "literal" | other-rule`, character classes, `{m,n}` repetition.
//!
//! A grammar is how a caller pins what a model may write. Tests lean on it: a free model's
//! words depend on the CPU's kernels (AVX2, AVX-512 and AMX give other logits), so a test
//! that asserts words forces them, and then holds on every machine.

/// `text` as a GBNF string literal: quotes, backslashes and control characters escaped,
/// everything else (accents included) as written.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A grammar whose only sentence is `text`: the model writes exactly it, then ends its
/// turn.
pub fn exactly(text: &str) -> String {
    format!("root ::= {}\n", literal(text))
}

/// A grammar of one of `texts`, the model choosing which.
pub fn one_of<S: AsRef<str>>(texts: &[S]) -> String {
    let alternatives: Vec<String> = texts.iter().map(|t| literal(t.as_ref())).collect();
    format!("root ::= {}\n", alternatives.join(" | "))
}

/// A grammar that repeats `text` exactly `times` times: a long answer that cannot end
/// early, for tests of cancellation and queues.
pub fn repeated(text: &str, times: u32) -> String {
    format!("root ::= {}{{{times}}}\n", literal(text))
}

/// Why a grammar cannot be used, with the byte offset where reading stopped. The
/// grammar's text is never repeated in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (at byte {at})")]
pub struct GrammarSyntaxError {
    pub what: String,
    pub at: usize,
}

/// Llama.cpp refuses repetitions that would expand into more rules than this.
const MAX_REPETITIONS: u64 = 2000;

/// Checks a grammar the way llama.cpp's parser reads it (rules `name ::= …` on their own
/// lines, literals, character classes, groups, `* + ? {m,n}`, `#` comments), and that
/// every rule used is defined and `root` is among them.
///
/// llama.cpp prints a grammar it cannot parse, whole, to standard error — where a
/// server's log would keep it — so no grammar reaches it before passing this check.
pub fn check(src: &str) -> Result<(), GrammarSyntaxError> {
    let mut p = Parser {
        s: src.as_bytes(),
        pos: 0,
        defined: Vec::new(),
        used: Vec::new(),
    };
    p.space(true);
    while p.pos < p.s.len() {
        p.rule()?;
    }
    if !p.defined.iter().any(|d| d == "root") {
        return Err(p.error("there is no `root ::= …` rule"));
    }
    if let Some((name, at)) = p.used.iter().find(|(u, _)| !p.defined.contains(u)) {
        return Err(GrammarSyntaxError {
            what: format!("the rule `{name}` is used but never defined"),
            at: *at,
        });
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    defined: Vec<String>,
    used: Vec<(String, usize)>,
}

impl Parser<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    fn error(&self, what: &str) -> GrammarSyntaxError {
        GrammarSyntaxError {
            what: what.to_string(),
            at: self.pos,
        }
    }

    fn space(&mut self, newline_ok: bool) {
        loop {
            match self.peek() {
                b' ' | b'\t' => self.pos += 1,
                b'\r' | b'\n' if newline_ok => self.pos += 1,
                b'#' => {
                    while !matches!(self.peek(), 0 | b'\r' | b'\n') {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn name(&mut self) -> Result<String, GrammarSyntaxError> {
        let start = self.pos;
        while matches!(self.peek(), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-') {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expecting a rule name (letters, digits, `-`)"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn rule(&mut self) -> Result<(), GrammarSyntaxError> {
        let name = self.name()?;
        self.space(false);
        if !self.s[self.pos..].starts_with(b"::=") {
            return Err(self.error("expecting `::=` after the rule name"));
        }
        self.pos += 3;
        self.space(true);
        self.alternates(false)?;
        match self.peek() {
            b'\r' | b'\n' | 0 => {}
            _ => return Err(self.error("expecting the end of the line")),
        }
        self.defined.push(name);
        self.space(true);
        Ok(())
    }

    /// Returns roughly how many rules the alternatives expand into.
    fn alternates(&mut self, nested: bool) -> Result<u64, GrammarSyntaxError> {
        let mut rules = self.sequence(nested)?;
        while self.peek() == b'|' {
            self.pos += 1;
            self.space(true);
            rules += self.sequence(nested)?;
        }
        Ok(rules)
    }

    fn sequence(&mut self, nested: bool) -> Result<u64, GrammarSyntaxError> {
        // The weight of the last item (what a repetition would copy), and the total.
        let mut last: Option<u64> = None;
        let mut total = 0u64;
        loop {
            match self.peek() {
                b'"' => {
                    self.literal()?;
                    last = Some(1);
                }
                b'[' => {
                    self.class()?;
                    last = Some(1);
                }
                b'<' | b'!' => {
                    return Err(self.error("token references (`<…>`) are not accepted"));
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => {
                    let at = self.pos;
                    let name = self.name()?;
                    self.used.push((name, at));
                    last = Some(1);
                }
                b'(' => {
                    self.pos += 1;
                    self.space(true);
                    let inner = self.alternates(true)?;
                    if self.peek() != b')' {
                        return Err(self.error("expecting `)`"));
                    }
                    self.pos += 1;
                    last = Some(inner.max(1));
                }
                b'.' => {
                    self.pos += 1;
                    last = Some(1);
                }
                b'*' | b'+' | b'?' => {
                    self.pos += 1;
                    self.repeat(&mut last, 1)?;
                }
                b'{' => {
                    let times = self.bounds(nested)?;
                    self.repeat(&mut last, times)?;
                }
                _ => break,
            }
            self.space(nested);
            if let Some(w) = last {
                total = total.max(w);
            }
        }
        Ok(total.max(1))
    }

    /// A quoted literal (`"…"`), the opening quote at `pos`.
    fn literal(&mut self) -> Result<(), GrammarSyntaxError> {
        self.pos += 1;
        while self.peek() != b'"' {
            self.char()?;
        }
        self.pos += 1;
        Ok(())
    }

    /// A character class (`[…]`, `[^…]`, with ranges), the `[` at `pos`.
    fn class(&mut self) -> Result<(), GrammarSyntaxError> {
        self.pos += 1;
        if self.peek() == b'^' {
            self.pos += 1;
        }
        while self.peek() != b']' {
            self.char()?;
            if self.peek() == b'-' && self.s.get(self.pos + 1) != Some(&b']') {
                self.pos += 1;
                self.char()?;
            }
        }
        self.pos += 1;
        Ok(())
    }

    /// A repetition's bounds (`{m}`, `{m,}`, `{m,n}`), the `{` at `pos`: how many times
    /// the item may be copied at most (its minimum when unbounded).
    fn bounds(&mut self, nested: bool) -> Result<u64, GrammarSyntaxError> {
        self.pos += 1;
        self.space(nested);
        let min = self.int()?;
        self.space(nested);
        let max = match self.peek() {
            b'}' => Some(min),
            b',' => {
                self.pos += 1;
                self.space(nested);
                let max = self
                    .peek()
                    .is_ascii_digit()
                    .then(|| self.int())
                    .transpose()?;
                self.space(nested);
                if self.peek() != b'}' {
                    return Err(self.error("expecting `}`"));
                }
                max
            }
            _ => return Err(self.error("expecting `,` or `}` in a repetition")),
        };
        self.pos += 1;
        if min > MAX_REPETITIONS || max.is_some_and(|m| m > MAX_REPETITIONS) {
            return Err(self.error("more than 2000 repetitions"));
        }
        Ok(max.unwrap_or(min).max(1))
    }

    fn repeat(&self, last: &mut Option<u64>, times: u64) -> Result<(), GrammarSyntaxError> {
        let Some(w) = *last else {
            return Err(self.error("`*`, `+`, `?` or `{…}` without an item before it"));
        };
        let w = w.saturating_mul(times);
        if w > MAX_REPETITIONS {
            return Err(self.error("the repetitions expand into more than 2000 rules"));
        }
        *last = Some(w + 1);
        Ok(())
    }

    fn int(&mut self) -> Result<u64, GrammarSyntaxError> {
        let start = self.pos;
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| self.error("expecting a number"))
    }

    /// One character of a literal or class: an escape or one UTF-8 character.
    fn char(&mut self) -> Result<(), GrammarSyntaxError> {
        match self.peek() {
            0 if self.pos >= self.s.len() => Err(self.error("the text ends inside a literal")),
            b'\\' => {
                let hex = match self.s.get(self.pos + 1).copied().unwrap_or(0) {
                    b'x' => 2,
                    b'u' => 4,
                    b'U' => 8,
                    b't' | b'r' | b'n' | b'\\' | b'"' | b'[' | b']' | b'-' => 0,
                    _ => return Err(self.error("unknown escape")),
                };
                self.pos += 2;
                for _ in 0..hex {
                    if !self.peek().is_ascii_hexdigit() {
                        return Err(self.error("expecting hexadecimal digits"));
                    }
                    self.pos += 1;
                }
                Ok(())
            }
            _ => {
                let rest = &self.s[self.pos..];
                let len = match rest[0] {
                    b if b < 0x80 => 1,
                    b if b >> 5 == 0b110 => 2,
                    b if b >> 4 == 0b1110 => 3,
                    _ => 4,
                };
                self.pos += len.min(rest.len());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_what_gbnf_needs() {
        assert_eq!(literal("sí"), "\"sí\"");
        assert_eq!(literal("a \"b\" \\ c\nd"), "\"a \\\"b\\\" \\\\ c\\nd\"");
        assert_eq!(literal("\u{1}"), "\"\\x01\"");
        assert_eq!(exactly("Hola."), "root ::= \"Hola.\"\n");
        assert_eq!(one_of(&["sí", "no"]), "root ::= \"sí\" | \"no\"\n");
        assert_eq!(repeated("mar ", 3), "root ::= \"mar \"{3}\n");
    }

    #[test]
    fn the_check_reads_what_llama_cpp_reads() {
        for g in [
            "root ::= \"sí\" | \"no\"",
            "# comment\nroot ::= item (\", \" item)*\nitem ::= [a-zA-Z0-9-]+ # trailing\n",
            "root ::= (\n  \"a\" |\n  \"b\"\n)\n",
            "root ::= [^\\n]{1,20} \"\\x41\\u00e9\"\nother-rule ::= .?\n",
            "root ::= \"a\"{3,} \"b\"{0,2}",
        ] {
            assert_eq!(check(g), Ok(()), "{g}");
        }
        for (g, what) in [
            ("root ::= greeting", "`greeting` is used but never defined"),
            ("answer ::= \"a\"", "no `root"),
            ("root = \"a\"", "expecting `::=`"),
            ("root ::= \"a", "ends inside a literal"),
            ("root ::= \"a\\q\"", "unknown escape"),
            ("root ::= (\"a\"", "expecting `)`"),
            ("root ::= * \"a\"", "without an item"),
            ("root ::= \"a\"{5000}", "2000"),
            ("root ::= (\"a\"{100}){100}", "2000"),
            ("root ::= \"a\" ::= \"b\"", "end of the line"),
            ("root ::= my_rule", "end of the line"),
            ("root ::= <think>", "token references"),
        ] {
            let e = check(g).unwrap_err();
            assert!(e.what.contains(what), "{g}: {e}");
        }
    }

    #[test]
    fn built_grammars_pass_the_settings_check() {
        for g in [
            exactly("x\n\"é\" \\ \u{1}"),
            one_of(&["a", "b"]),
            repeated("y", 2),
        ] {
            assert_eq!(check(&g), Ok(()), "{g}");
            let s = crate::SamplingSettings {
                grammar: Some(g.clone()),
                ..Default::default()
            };
            assert!(s.validate().is_ok(), "{g}");
        }
    }
}
