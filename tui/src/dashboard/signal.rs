//! The process table's "send a signal" prompt: the selected process, the
//! signal (←/→ or Tab pick among TERM, KILL, INT, HUP …), `y` or Enter to
//! send it, `n` or Esc to leave it. The daemon decides who may (its
//! operators, never pid 1 nor itself) and says so in one line.

use agora_wire::metrics::SIGNALS;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

/// Asking whether to send a signal to a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalPrompt {
    /// The process.
    pub pid: u32,
    /// Its name.
    pub name: String,
    choice: usize,
}

/// What a key did to the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKey {
    /// Send this signal to this pid.
    Send(u32, &'static str),
    /// Leave it.
    Cancel,
    /// Still asking.
    Stay,
}

impl SignalPrompt {
    /// Asks about `pid` (`name`), offering SIGTERM first.
    pub fn new(pid: u32, name: &str) -> SignalPrompt {
        SignalPrompt {
            pid,
            name: name.to_owned(),
            choice: 0,
        }
    }

    /// The signal picked.
    pub fn signal(&self) -> &'static str {
        SIGNALS[self.choice]
    }

    /// "Send SIGTERM to 1234 (name)? y/n".
    pub fn question(&self) -> String {
        format!(
            "Send SIG{} to {} ({})? y/n",
            self.signal(),
            self.pid,
            self.name
        )
    }

    /// Handles a key; every key is the prompt's while it is open.
    pub fn handle_key(&mut self, key: KeyEvent) -> PromptKey {
        let n = SIGNALS.len();
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                PromptKey::Send(self.pid, self.signal())
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => PromptKey::Cancel,
            KeyCode::Right | KeyCode::Tab | KeyCode::Char('l') => {
                self.choice = (self.choice + 1) % n;
                PromptKey::Stay
            }
            KeyCode::Left | KeyCode::BackTab | KeyCode::Char('h') => {
                self.choice = (self.choice + n - 1) % n;
                PromptKey::Stay
            }
            _ => PromptKey::Stay,
        }
    }
}

impl Widget for &SignalPrompt {
    /// A box in the middle of `area`.
    fn render(self, area: Rect, buf: &mut Buffer) {
        let question = self.question();
        let width = (question.chars().count() as u16 + 4)
            .max(50)
            .min(area.width);
        let height = 5.min(area.height);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        Clear.render(popup, buf);
        let block = Block::bordered()
            .title(" Send a signal ")
            .border_style(Style::new().fg(Color::Yellow));
        let mut choices = Vec::new();
        for (i, name) in SIGNALS.iter().enumerate() {
            let style = if i == self.choice {
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                Style::new().fg(Color::DarkGray)
            };
            choices.push(Span::styled(*name, style));
            choices.push(Span::raw(" "));
        }
        Paragraph::new(vec![
            Line::styled(
                question,
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Line::from(choices),
            Line::styled(
                "←/→ signal  y send  n/Esc cancel",
                Style::new().fg(Color::DarkGray),
            ),
        ])
        .block(block)
        .render(popup, buf);
    }
}
