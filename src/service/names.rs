//! What a single-line name may hold — nicknames, remarks, group names,
//! aliases — and the form in which names are compared.
//!
//! A name others read must not be able to disguise itself: characters that
//! reorder the text around them (bidirectional controls), that render as
//! nothing (zero-width characters, fillers) and control characters are
//! refused, and a name that is not empty shows at least one visible
//! character. The two joiners (U+200C, U+200D) stay allowed inside a word,
//! where Persian, Indic scripts (after a virama) and emoji sequences (after
//! a variation selector) need them: not at either end, not beside a space
//! or another joiner. Names are stored in Unicode NFC, so one name typed on two keyboards
//! is one string, and compared (search, the nickname index) by [`fold`].

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::{ServiceError, ServiceResult};

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';

/// Checks a name of at most `max_chars` characters (counted after NFC) and
/// returns its NFC form; the error names `field` and the rule broken.
pub(super) fn check(field: &str, value: &str, max_chars: usize) -> ServiceResult<String> {
    let name: String = value.nfc().collect();
    let invalid = |rule: &str| ServiceError::invalid(format!("{field}: {rule}"));
    if name.chars().count() > max_chars {
        return Err(invalid(&format!("at most {max_chars} characters")).with_limit(max_chars as u64));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("must not contain control characters"));
    }
    if let Some(c) = name.chars().find(|c| hidden(*c)) {
        return Err(invalid(&format!(
            "must not contain U+{:04X} (bidirectional controls, zero-width and filler characters are refused)",
            c as u32
        )));
    }
    let chars: Vec<char> = name.chars().collect();
    let joins = |c: Option<&char>| c.is_some_and(|c| !c.is_whitespace() && !joiner(*c));
    for (i, c) in chars.iter().enumerate() {
        if joiner(*c) && !(i > 0 && joins(chars.get(i - 1)) && joins(chars.get(i + 1))) {
            return Err(invalid("a joiner (U+200C, U+200D) must stand inside a word, not at an end or beside a space"));
        }
    }
    if !name.is_empty() && !chars.iter().any(|c| shows(*c)) {
        return Err(invalid("must show at least one visible character, not only spaces or marks"));
    }
    Ok(name)
}

/// The form in which names are compared: compatibility-normalised (NFKC),
/// lower-cased, without the joiners and variation selectors that do not
/// change how a name reads, so `Ｍｉｋｅ`, `MIKE` and `mike` are one name
/// and `小明` stays `小明`.
pub(super) fn fold(name: &str) -> String {
    let lower: String = name.nfkc().collect::<String>().to_lowercase();
    lower.nfkc().filter(|c| !ignorable(*c)).collect()
}

/// Characters refused anywhere in a name.
fn hidden(c: char) -> bool {
    matches!(
        c,
        // Bidirectional embeddings, overrides, isolates and marks.
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        // Zero-width and invisible operators, the BOM, soft hyphen.
        | '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}' | '\u{034F}'
        // Fillers that render as blank.
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}' | '\u{17B4}' | '\u{17B5}'
        // Tag characters.
        | '\u{E0000}'..='\u{E007F}'
    )
}

fn joiner(c: char) -> bool {
    c == ZWJ || c == ZWNJ
}

/// Characters a fold leaves out: joiners and variation selectors.
fn ignorable(c: char) -> bool {
    matches!(c, ZWNJ | ZWJ | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Whether a character shows something by itself.
fn shows(c: char) -> bool {
    !c.is_whitespace() && !ignorable(c) && !is_combining_mark(c) && !hidden(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disguises_are_refused_and_the_message_names_the_field() {
        for bad in [
            "admin\u{202E}nimda",
            "\u{2066}alice",
            "bo\u{200B}b",
            "\u{3164}",
            "\u{3164}\u{3164}",
            " \u{3000} ",
            "\u{0301}\u{0301}",
            "\u{200D}bob",
            "bob\u{200C}",
            "a \u{200D} b",
            "a\u{200D}\u{200D}b",
            "x\u{E0041}",
        ] {
            let e = check("nickname", bad, 32).unwrap_err().to_string();
            assert!(e.starts_with("nickname:"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn real_names_pass_in_nfc() {
        for good in [
            "小明",
            "Émile",
            "می\u{200C}خواهم",
            "👨\u{200D}👩\u{200D}👧",
            "❤\u{FE0F}",
            "O'Brien",
            "",
            // A variation selector or a virama before the joiner.
            "🏳\u{FE0F}\u{200D}🌈",
            "❤\u{FE0F}\u{200D}🔥",
            "क\u{094D}\u{200D}ष",
            "क\u{094D}\u{200C}ष",
        ] {
            assert!(check("nickname", good, 32).is_ok(), "{good:?}");
        }
        // "e" + combining acute is stored as the one character é.
        assert_eq!(check("nickname", "Emile\u{0301}", 32).unwrap(), "Emil\u{00E9}");
        assert_eq!(check("nickname", &"x".repeat(33), 32).unwrap_err().to_string(), "nickname: at most 32 characters");
    }

    #[test]
    fn names_fold_by_compatibility_and_case() {
        assert_eq!(fold("Ｍｉｋｅ"), "mike");
        assert_eq!(fold("MIKE"), "mike");
        assert_eq!(fold("ﬁsh"), "fish");
        assert_eq!(fold("小明 Ärger"), "小明 ärger");
        assert_eq!(fold("ad\u{200C}min"), "admin");
        assert_eq!(fold("Emile\u{0301}"), fold("Emil\u{00E9}"));
    }
}
