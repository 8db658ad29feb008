//! Text from a scenario made safe where it is shown: on a terminal (no control characters, so
//! no escape sequence from a file can move the cursor, recolour or retitle it) and in a
//! spreadsheet (no cell that would run as a formula).

use std::borrow::Cow;
use std::io::Write;

/// `s` with every control character but the newline replaced: a tab by a space, the others by
/// U+FFFD (one column wide, so a caret under a line still points at the right place).
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' => '\n',
                '\t' => ' ',
                c if c.is_control() => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// A writer that passes everything through [`printable`]: what cfsim prints on stdout.
pub struct Printable<W>(pub W);

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(s) => self.0.write_all(printable(s).as_bytes())?,
            // Formatting writes whole strings, so this is a character split across writes:
            // control bytes are still replaced, the others passed on.
            Err(_) => {
                let bytes: Vec<u8> = buf
                    .iter()
                    .map(|&b| {
                        if (b < 0x20 && b != b'\n') || b == 0x7f {
                            b'?'
                        } else {
                            b
                        }
                    })
                    .collect();
                self.0.write_all(&bytes)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A text cell for a CSV file: a leading `'` keeps a spreadsheet from running a cell that
/// starts like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return) as one (OWASP's
/// advice for CSV injection). Numbers are written as numbers and never pass through here.
pub fn spreadsheet_cell(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_pass() {
        assert_eq!(printable("plain\nlines"), "plain\nlines");
        assert_eq!(
            printable("a\u{1b}[31mred\tb\u{7}"),
            "a\u{FFFD}[31mred b\u{FFFD}"
        );
        assert_eq!(printable("c1 \u{9b}2J"), "c1 \u{FFFD}2J");
        let mut out = Printable(Vec::new());
        writeln!(out, "x\u{1b}]0;title\u{7}y").unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "x\u{FFFD}]0;title\u{FFFD}y\n"
        );
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(spreadsheet_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_cell("-2+3"), "'-2+3");
        assert_eq!(spreadsheet_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_cell("P(default)"), "P(default)");
    }
}
