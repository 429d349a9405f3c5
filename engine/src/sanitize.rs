//! Make untrusted text (certificate names, server errors) safe for a terminal.
//!
//! Control characters (C0, DEL, C1), bidirectional overrides and isolates, and
//! zero-width characters are replaced by `\u{…}` escapes, so a certificate
//! cannot move the cursor, recolour the screen or reorder what the user reads.
//! [`escape_markup`] additionally makes text safe inside notification or
//! HTML markup (`<`, `>`, `&`).

/// Escapes characters that could alter a terminal or hide text.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes `&`, `<` and `>` for a markup context (desktop notification
/// bodies and titles, HTML). Apply after [`sanitize`].
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width, LRM/RLM
            | '\u{202a}'..='\u{202e}' // bidi embeddings/overrides
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_table() {
        let cases = [
            ("plain O=Let's Encrypt", "plain O=Let's Encrypt"),
            ("a\x1b[31mred", "a\\u{1b}[31mred"),
            ("evil\u{202e}moc.knab", "evil\\u{202e}moc.knab"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("line\nbreak\r", "line\\u{a}break\\u{d}"),
            ("c1\u{9b}x", "c1\\u{9b}x"),
            ("ünïcödé ok", "ünïcödé ok"),
        ];
        for (i, o) in cases {
            assert_eq!(sanitize(i), o);
        }
    }

    #[test]
    fn markup_table() {
        let cases = [
            ("Let's Encrypt", "Let's Encrypt"),
            (
                "<a href=\"https://evil.test\">Bank</a>",
                "&lt;a href=\"https://evil.test\"&gt;Bank&lt;/a&gt;",
            ),
            ("A & B", "A &amp; B"),
            ("&lt;", "&amp;lt;"),
            ("<img src=x>", "&lt;img src=x&gt;"),
            ("→ ünï", "→ ünï"),
        ];
        for (i, o) in cases {
            assert_eq!(escape_markup(i), o, "{i}");
        }
    }
}
