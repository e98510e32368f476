//! A one-line text editor, shared by every input line of the TUI: the
//! Chat tab's input, the Cache tab's filter prompt, the sign-in form's
//! fields.
//!
//! [`LineEditor`] holds the text being typed, the cursor, the lines sent
//! before (browsed with Up/Down, the unsent draft kept aside) and the state
//! of a tab completion in progress (repeated Tab cycles through matches).
//! [`LineEditor::edit`] applies the editing keys every line takes alike
//! (typing, Backspace/Delete, Left/Right, Home/End and Ctrl-A/Ctrl-E,
//! Ctrl-U, Ctrl-W, Ctrl-K); what Enter, Esc, Tab, Up and Down mean is the
//! owner's business. It knows nothing about rooms, keys or the network:
//! callers pass the words to complete.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_width::UnicodeWidthChar;

/// How many sent lines Up can bring back.
const HISTORY: usize = 100;

/// A tab completion in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Completion {
    /// Where the completed word starts (a char index).
    start: usize,
    /// The candidates, in offer order.
    matches: Vec<String>,
    /// Which candidate is in the text now.
    index: usize,
    /// What follows the candidate (`": "` after a nick at the line start).
    suffix: &'static str,
}

/// A one-line editor with history and completion. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct LineEditor {
    chars: Vec<char>,
    /// The cursor, as an index into `chars`.
    cursor: usize,
    /// Sent lines, oldest first.
    history: Vec<String>,
    /// The history entry shown now, if browsing.
    browsing: Option<usize>,
    /// The unsent line, kept while browsing history.
    draft: String,
    completion: Option<Completion>,
}

impl LineEditor {
    /// The text typed so far.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// How many characters are typed.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// The cursor, as a count of characters before it.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// What to draw in a field `width` cells wide: the part of the text
    /// that fits, scrolled left so the cursor shows (one cell is kept for
    /// the cursor past the end), and the cursor's column within it. With
    /// `mask`, every character is drawn as that one (passwords).
    pub fn view(&self, width: usize, mask: Option<char>) -> (String, usize) {
        let shown: Vec<char> = match mask {
            Some(m) => vec![m; self.chars.len()],
            None => self.chars.clone(),
        };
        let col = |cs: &[char]| -> usize { cs.iter().map(|c| c.width().unwrap_or(0)).sum() };
        let cursor = col(&shown[..self.cursor]);
        let skip = cursor.saturating_sub(width.saturating_sub(1));
        let mut at = 0;
        let text = shown
            .iter()
            .filter(|c| {
                let keep = at >= skip;
                at += c.width().unwrap_or(0);
                keep
            })
            .collect();
        (text, cursor - skip)
    }

    /// Applies one of the editing keys every line takes alike: a printable
    /// character (no Ctrl or Alt) is typed; Backspace, Delete, Left, Right,
    /// Home/Ctrl-A, End/Ctrl-E move or delete; Ctrl-U clears the line,
    /// Ctrl-W deletes the word before the cursor, Ctrl-K the rest of the
    /// line. Returns whether the key was one of these.
    pub fn edit(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('a') if ctrl => self.home(),
            KeyCode::Char('e') if ctrl => self.end(),
            KeyCode::Char('u') if ctrl => self.clear(),
            KeyCode::Char('w') if ctrl => self.delete_word(),
            KeyCode::Char('k') if ctrl => self.delete_to_end(),
            _ if ctrl || alt => return false,
            KeyCode::Char(c) => self.insert(c),
            KeyCode::Backspace => self.backspace(),
            KeyCode::Delete => self.delete(),
            KeyCode::Left => {
                self.left();
            }
            KeyCode::Right => {
                self.right();
            }
            KeyCode::Home => self.home(),
            KeyCode::End => self.end(),
            _ => return false,
        }
        true
    }

    /// The cursor's column, in terminal cells from the start of the text.
    pub fn cursor_column(&self) -> usize {
        self.chars[..self.cursor]
            .iter()
            .map(|c| c.width().unwrap_or(0))
            .sum()
    }

    /// Replaces the text, cursor at the end.
    pub fn set_text(&mut self, text: &str) {
        self.chars = text.chars().collect();
        self.cursor = self.chars.len();
        self.completion = None;
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
        self.edited();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
        self.edited();
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
        self.edited();
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
        self.edited();
    }

    /// Deletes from the cursor to the end of the line (Ctrl-K).
    pub fn delete_to_end(&mut self) {
        self.chars.truncate(self.cursor);
        self.edited();
    }

    /// Clears the line (Ctrl-U).
    pub fn clear(&mut self) {
        self.chars.clear();
        self.cursor = 0;
        self.edited();
    }

    /// Moves the cursor one character left; false at the start.
    pub fn left(&mut self) -> bool {
        self.completion = None;
        let moved = self.cursor > 0;
        self.cursor = self.cursor.saturating_sub(1);
        moved
    }

    /// Moves the cursor one character right; false at the end.
    pub fn right(&mut self) -> bool {
        self.completion = None;
        let moved = self.cursor < self.chars.len();
        self.cursor = (self.cursor + 1).min(self.chars.len());
        moved
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.completion = None;
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.completion = None;
        self.cursor = self.chars.len();
    }

    /// Takes the line to send: clears it and remembers it for Up.
    pub fn submit(&mut self) -> String {
        let line = self.text();
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == HISTORY {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        self.browsing = None;
        self.draft.clear();
        self.clear();
        line
    }

    /// Shows the previous sent line (Up).
    pub fn history_up(&mut self) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text();
                self.history.len() - 1
            }
            Some(i) => i.saturating_sub(1),
        };
        self.browsing = Some(index);
        let line = self.history[index].clone();
        self.set_text(&line);
    }

    /// Shows the next sent line, or back to the draft (Down).
    pub fn history_down(&mut self) {
        let Some(i) = self.browsing else { return };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            let line = self.history[i + 1].clone();
            self.set_text(&line);
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.set_text(&draft);
        }
    }

    /// Completes the word before the cursor: one of `commands` when the
    /// word starts the line and begins with `/`, otherwise one of `nicks`
    /// (case-insensitive prefix). A second Tab right after offers the next
    /// match. Returns whether anything matched.
    pub fn complete(&mut self, commands: &[&str], nicks: &[String]) -> bool {
        if let Some(c) = &mut self.completion {
            let old = c.matches[c.index].chars().count() + c.suffix.chars().count();
            c.index = (c.index + 1) % c.matches.len();
            let new: Vec<char> = c.matches[c.index].chars().chain(c.suffix.chars()).collect();
            let start = c.start;
            self.cursor = start + new.len();
            self.chars.splice(start..start + old, new);
            return true;
        }
        let mut start = self.cursor;
        while start > 0 && !self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let word: String = self.chars[start..self.cursor].iter().collect();
        // `@bob` completes the nick and keeps the `@`.
        let (start, word) = match word.strip_prefix('@') {
            Some(rest) => (start + 1, rest.to_string()),
            None => (start, word),
        };
        let (matches, suffix): (Vec<String>, &'static str) = if start == 0 && word.starts_with('/')
        {
            let found = commands
                .iter()
                .filter(|c| c.starts_with(word.as_str()))
                .map(|c| c.to_string())
                .collect();
            (found, " ")
        } else if word.is_empty() {
            return false;
        } else {
            let lower = word.to_lowercase();
            let mut found: Vec<String> = nicks
                .iter()
                .filter(|n| n.to_lowercase().starts_with(&lower))
                .cloned()
                .collect();
            found.sort();
            found.dedup();
            (found, if start == 0 { ": " } else { " " })
        };
        if matches.is_empty() {
            return false;
        }
        let new: Vec<char> = matches[0].chars().chain(suffix.chars()).collect();
        self.chars.splice(start..self.cursor, new.iter().copied());
        self.cursor = start + new.len();
        self.completion = Some(Completion {
            start,
            matches,
            index: 0,
            suffix,
        });
        true
    }

    /// Any edit ends a completion in progress and history browsing keeps
    /// the edited line as the new draft.
    fn edited(&mut self) {
        self.completion = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> LineEditor {
        let mut e = LineEditor::default();
        text.chars().for_each(|c| e.insert(c));
        e
    }

    const COMMANDS: [&str; 4] = ["/join", "/me", "/msg", "/quit"];

    fn complete(e: &mut LineEditor, nicks: &[String]) -> bool {
        e.complete(&COMMANDS, nicks)
    }

    fn nicks() -> Vec<String> {
        ["alice", "bob", "Bobby", "carol"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn editing_moves_the_cursor() {
        let mut e = typed("helo");
        e.left();
        e.insert('l');
        assert_eq!(e.text(), "hello");
        e.home();
        e.delete();
        assert_eq!(e.text(), "ello");
        e.end();
        e.backspace();
        assert_eq!((e.text().as_str(), e.cursor_column()), ("ell", 3));
        let mut e = typed("one two  ");
        e.delete_word();
        assert_eq!(e.text(), "one ");
        e.clear();
        assert!(e.is_empty());
        assert!(!e.left() && !e.right());
    }

    #[test]
    fn editing_keys_are_shared() {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        let mut e = LineEditor::default();
        for c in "hello world".chars() {
            assert!(e.edit(key(KeyCode::Char(c))));
        }
        assert!(e.edit(key(KeyCode::Home)));
        assert_eq!(e.cursor(), 0);
        e.edit(key(KeyCode::Delete));
        e.edit(key(KeyCode::Char('H')));
        assert!(e.edit(key(KeyCode::End)));
        assert_eq!((e.text().as_str(), e.cursor()), ("Hello world", 11));
        e.edit(ctrl('w'));
        assert_eq!(e.text(), "Hello ");
        e.edit(ctrl('a'));
        e.edit(key(KeyCode::Right));
        e.edit(ctrl('k'));
        assert_eq!(e.text(), "H");
        e.edit(ctrl('e'));
        e.edit(key(KeyCode::Backspace));
        assert!(e.is_empty());
        e.edit(key(KeyCode::Char('x')));
        assert!(e.edit(ctrl('u')));
        assert_eq!((e.len(), e.cursor()), (0, 0));
        // Keys with a meaning elsewhere are left to the owner.
        for other in [
            key(KeyCode::Enter),
            key(KeyCode::Esc),
            key(KeyCode::Tab),
            key(KeyCode::Up),
            ctrl('n'),
            KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT),
        ] {
            assert!(!e.edit(other), "{other:?}");
        }
        assert!(e.is_empty());
    }

    #[test]
    fn the_view_scrolls_to_the_cursor_and_masks() {
        let e = typed("abcdefghij");
        assert_eq!(e.view(20, None), ("abcdefghij".into(), 10));
        assert_eq!(e.view(5, None), ("ghij".into(), 4));
        assert_eq!(e.view(5, Some('•')), ("••••".into(), 4));
        let mut e = typed("日本語");
        e.home();
        assert_eq!(e.view(3, None), ("日本語".into(), 0));
        e.end();
        assert_eq!(e.view(3, None).1, 2);
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let e = typed("日本");
        assert_eq!(e.cursor_column(), 4);
    }

    #[test]
    fn up_and_down_browse_history_and_keep_the_draft() {
        let mut e = LineEditor::default();
        for line in ["first", "second", "second", "  "] {
            e.set_text(line);
            e.submit();
        }
        e.set_text("draft");
        e.history_up();
        assert_eq!(e.text(), "second");
        e.history_up();
        assert_eq!(e.text(), "first", "duplicates and blanks are not kept");
        e.history_up();
        assert_eq!(e.text(), "first");
        e.history_down();
        assert_eq!(e.text(), "second");
        e.history_down();
        assert_eq!(e.text(), "draft");
        e.history_down();
        assert_eq!(e.text(), "draft");
    }

    #[test]
    fn history_is_bounded() {
        let mut e = LineEditor::default();
        for i in 0..HISTORY + 5 {
            e.set_text(&format!("line {i}"));
            e.submit();
        }
        for _ in 0..HISTORY + 5 {
            e.history_up();
        }
        assert_eq!(e.text(), "line 5");
    }

    #[test]
    fn tab_completes_commands_at_the_start() {
        let mut e = typed("/jo");
        assert!(complete(&mut e, &nicks()));
        assert_eq!(e.text(), "/join ");
        let mut e = typed("/m");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "/me ");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "/msg ", "a second Tab cycles");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "/me ");
        let mut e = typed("/zz");
        assert!(!complete(&mut e, &nicks()));
        assert_eq!(e.text(), "/zz");
    }

    #[test]
    fn tab_completes_nicks_case_insensitively() {
        let mut e = typed("al");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "alice: ", "at the start, nick and colon");
        let mut e = typed("hi BO");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "hi Bobby ");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "hi bob ");
        let mut e = typed("/msg ca");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "/msg carol ");
        let mut e = typed("ping @car");
        complete(&mut e, &nicks());
        assert_eq!(e.text(), "ping @carol ");
        // Typing after a completion starts afresh.
        e.insert('x');
        assert!(!complete(&mut e, &nicks()));
        let mut e = typed("hi ");
        assert!(!complete(&mut e, &nicks()), "nothing to complete");
    }

    #[test]
    fn completing_mid_line_keeps_the_rest() {
        let mut e = typed("hi b, how are you");
        for _ in 0.." how are you".len() + 1 {
            e.left();
        }
        complete(&mut e, &["bob".to_string()]);
        assert_eq!(e.text(), "hi bob , how are you");
    }
}
