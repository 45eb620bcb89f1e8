//! BERT uncased WordPiece tokenisation, as the MiniLM encoder expects it.
//!
//! The steps and their order are those of the encoder's `tokenizer.json` (`BertNormalizer` with
//! `clean_text`, `handle_chinese_chars`, lowercase and accent stripping; `BertPreTokenizer`; `WordPiece`
//! with `##` continuations and at most 100 characters per word; `[CLS] … [SEP]`, truncated to
//! `max_tokens`). The tests compare the output with Hugging Face `tokenizers` on a fixture.

use std::{collections::HashMap, path::Path};

use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::UnicodeNormalization;

use crate::error::{Error, Result};

/// Special tokens recognised verbatim in the text.
const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Words longer than this (in characters) become `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

/// A WordPiece vocabulary and the special token ids.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    cls: u32,
    sep: u32,
    unk: u32,
    max_tokens: usize,
}

/// Hugging Face's `is_control`: categories Cc, Cf and Co (as in the `unicode_categories` tables it uses),
/// except tab, newline and carriage return.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

fn is_chinese(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

/// `BertNormalizer`: drop NUL, U+FFFD and control characters, map whitespace to a space, put spaces around
/// CJK ideographs, strip accents (NFD, drop non-spacing marks), lowercase.
pub fn normalise(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if c.is_whitespace() {
            cleaned.push(' ');
        } else if is_chinese(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    // Lowercase one character at a time (as Hugging Face does): `str::to_lowercase` would map a word-final
    // capital sigma to the final form, another token.
    cleaned
        .as_str()
        .nfd()
        .map(|(c, _)| c)
        .filter(|c| !c.is_mark_nonspacing())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `BertPreTokenizer`: split on whitespace (dropped) and around every punctuation character (kept alone).
pub fn pre_tokenise(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for word in text.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        let mut start = 0;
        for (i, c) in word.char_indices() {
            if is_punctuation(c) {
                if start < i {
                    out.push(&word[start..i]);
                }
                out.push(&word[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        if start < word.len() {
            out.push(&word[start..]);
        }
    }
    out
}

impl Tokenizer {
    /// Reads `vocab.txt` (one token per line, id = line number) from the encoder directory.
    pub fn load(dir: &Path, max_tokens: usize) -> Result<Self> {
        let path = dir.join("vocab.txt");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_vocab(&text, max_tokens)
    }

    /// Builds the tokenizer from `vocab.txt`'s text.
    pub fn from_vocab(text: &str, max_tokens: usize) -> Result<Self> {
        if max_tokens < 3 {
            return Err(Error::BadWeights(format!(
                "max_tokens {max_tokens}: needs room for [CLS], one token and [SEP]"
            )));
        }
        let vocab: HashMap<String, u32> = text
            .lines()
            .enumerate()
            .map(|(i, t)| (t.to_owned(), i as u32))
            .collect();
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| Error::BadWeights(format!("vocab.txt has no {t} token")))
        };
        Ok(Self {
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            unk: id("[UNK]")?,
            vocab,
            max_tokens,
        })
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Longest sequence produced, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                let piece = if start == 0 {
                    self.vocab.get(&word[start..end])
                } else {
                    self.vocab.get(&format!("##{}", &word[start..end]))
                };
                if let Some(&id) = piece {
                    found = Some(id);
                    break;
                }
                // Step back one character.
                end = word[..end]
                    .char_indices()
                    .next_back()
                    .map_or(start, |(i, _)| i);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }

    /// The special token that starts `text`, if one does (exact, case-sensitive, like the encoder's
    /// `added_tokens`).
    fn special_prefix(&self, text: &str) -> Option<(&'static str, u32)> {
        SPECIALS
            .iter()
            .filter(|s| text.starts_with(**s))
            .find_map(|s| self.vocab.get(*s).map(|&id| (*s, id)))
    }

    /// Token ids `[CLS] pieces… [SEP]`, at most `max_tokens` of them. Special-token strings written in the
    /// text (`[SEP]`, `[CLS]`, … exactly) become those tokens, as in the encoder's `tokenizer.json`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.cls];
        let mut segment_start = 0;
        let mut i = 0;
        let flush = |segment: &str, ids: &mut Vec<u32>| {
            for word in pre_tokenise(&normalise(segment)) {
                if ids.len() >= self.max_tokens - 1 {
                    break;
                }
                self.word_pieces(word, ids);
            }
        };
        while i < text.len() {
            if let Some((s, id)) = self.special_prefix(&text[i..]) {
                flush(&text[segment_start..i], &mut ids);
                ids.push(id);
                i += s.len();
                segment_start = i;
            } else {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
        flush(&text[segment_start..], &mut ids);
        ids.truncate(self.max_tokens - 1);
        ids.push(self.sep);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Tokenizer {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nhello\n,\nworld\n!\ncafe\n中\n";
        Tokenizer::from_vocab(vocab, 16).unwrap()
    }

    #[test]
    fn normalises_like_bert() {
        assert_eq!(normalise("Café\tWORLD\u{0}\u{200b}x"), "cafe worldx");
        assert_eq!(normalise("a中b"), "a 中 b");
    }

    #[test]
    fn splits_punctuation() {
        assert_eq!(
            pre_tokenise("hello, world!! a-b"),
            vec!["hello", ",", "world", "!", "!", "a", "-", "b"]
        );
    }

    #[test]
    fn word_pieces_and_unknowns() {
        let t = toy();
        assert_eq!(t.encode("unaffable"), vec![2, 4, 5, 6, 3]);
        assert_eq!(t.encode("Hello, World!"), vec![2, 7, 8, 9, 10, 3]);
        // A word with no full segmentation is one [UNK], not a partial match.
        assert_eq!(t.encode("unaffx café"), vec![2, 1, 11, 3]);
        assert_eq!(t.encode("中"), vec![2, 12, 3]);
        assert_eq!(t.encode(&"a".repeat(101)), vec![2, 1, 3]);
    }

    #[test]
    fn truncates_to_max_tokens() {
        let t = Tokenizer::from_vocab("[UNK]\n[CLS]\n[SEP]\nx\n", 5).unwrap();
        assert_eq!(t.encode("x x x x x x x"), vec![1, 3, 3, 3, 2]);
        assert!(Tokenizer::from_vocab("[UNK]\n[CLS]\n", 5).is_err());
        assert!(Tokenizer::from_vocab("[UNK]\n[CLS]\n[SEP]\n", 2).is_err());
    }
}
