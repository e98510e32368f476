//! The sign-in form: signing in, or registering, from inside the TUI.
//!
//! [`SignInForm`] is owned by the app, not by a tab: it opens by itself
//! when the connection comes up without a user, and on F2 from anywhere;
//! while open it takes every key but Ctrl-C, so nothing typed into it
//! reaches a tab. It has a name field, a password field (masked) and, to
//! register, the password again; Ctrl-R switches between signing in and
//! registering, Tab/Shift-Tab and Up/Down move between fields, Enter
//! submits, Esc closes. The fields check the daemon's rules first
//! (`agora_wire::names`), so most mistakes are shown before anything is
//! sent; the daemon's answer (a wrong password, a name taken) is shown in
//! the form too.
//!
//! Like everything in the TUI's state it does no I/O: the `login` or
//! `register` request is queued as an [`Outgoing`] (the app sends it
//! through the normal path, in tag namespace 0) and the answer comes back
//! through [`SignInForm::on_reply`], which hands a [`SignedIn`] to the app
//! on success. Drawing is in `view`.

pub(crate) mod view;

use agora_wire::names::{MAX_PASSWORD, MIN_PASSWORD, validate_password, validate_user_name};
use agora_wire::{BaseOp, BaseReply, Reply};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::line_editor::LineEditor;
use crate::tab::Outgoing;

/// A successful sign-in (or registration) from the form: what the
/// embedding program needs to save it for its other commands, and the
/// connection to sign in again after a reconnect.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The account name.
    pub user: String,
    /// The account's id.
    pub user_id: i64,
    /// The bearer token for later connections.
    pub token: String,
    /// When the token expires, ms since the Unix epoch.
    pub expires_at_ms: u64,
}

// By hand so the token never lands in a log or a panic message.
impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user", &self.user)
            .field("user_id", &self.user_id)
            .field("token", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// What the form is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Signing in to an existing account.
    #[default]
    SignIn,
    /// Creating an account (and signing in to it).
    Register,
}

/// The field with the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Field {
    /// The account name.
    #[default]
    Name,
    /// The password.
    Password,
    /// The password again (registering only).
    Confirm,
}

/// What a key did to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    /// Used (or swallowed: the form is modal).
    Consumed,
    /// The user closed the form (Esc).
    Close,
}

/// The sign-in form. See the module docs. Its `Debug` leaves the
/// passwords out.
#[derive(Clone, Default)]
pub struct SignInForm {
    mode: Mode,
    focus: Field,
    name: LineEditor,
    password: LineEditor,
    confirm: LineEditor,
    /// What went wrong last, shown in the form.
    error: Option<String>,
    /// The tag of the request on its way, if one is.
    waiting: Option<u64>,
    next_tag: u64,
    outbox: Vec<Outgoing>,
}

// By hand so a password never lands in a log or a panic message.
impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInForm")
            .field("mode", &self.mode)
            .field("focus", &self.focus)
            .field("name", &self.name.text())
            .field("password", &format_args!("<{} chars>", self.password.len()))
            .field("confirm", &format_args!("<{} chars>", self.confirm.len()))
            .field("error", &self.error)
            .field("waiting", &self.waiting)
            .field("outbox", &format_args!("<{} requests>", self.outbox.len()))
            .finish()
    }
}

impl SignInForm {
    /// A form to sign in, with the name filled in when one is known (a
    /// saved sign-in whose token was refused): then the password has the
    /// keyboard.
    pub fn new(name: Option<&str>) -> SignInForm {
        let mut form = SignInForm::default();
        if let Some(name) = name {
            form.name.set_text(name);
            form.focus = Field::Password;
        }
        form
    }

    /// Signing in or registering.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The field with the keyboard.
    pub fn focus(&self) -> Field {
        self.focus
    }

    /// A field's editor.
    pub fn field(&self, field: Field) -> &LineEditor {
        match field {
            Field::Name => &self.name,
            Field::Password => &self.password,
            Field::Confirm => &self.confirm,
        }
    }

    /// The fields the form shows, in order.
    pub fn fields(&self) -> &'static [Field] {
        match self.mode {
            Mode::SignIn => &[Field::Name, Field::Password],
            Mode::Register => &[Field::Name, Field::Password, Field::Confirm],
        }
    }

    /// What went wrong last, if anything.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether an answer is awaited.
    pub fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// Takes the requests queued since the last call (at most one).
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// Whether `tag` is the request this form is waiting for.
    pub fn owns(&self, tag: u64) -> bool {
        self.waiting == Some(tag)
    }

    /// A key press; the form is modal, so every key is its own.
    pub fn handle_key(&mut self, key: KeyEvent) -> FormKey {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return FormKey::Close,
            // The answer is on its way (a few seconds at most): the form
            // stays as it was sent.
            _ if self.waiting.is_some() => {}
            KeyCode::Char('r') if ctrl => self.switch_mode(),
            KeyCode::Enter => self.submit(),
            KeyCode::Tab | KeyCode::Down => self.move_focus(1),
            KeyCode::BackTab | KeyCode::Up => self.move_focus(-1),
            // What went wrong stays in sight while it is being fixed.
            _ => {
                let field = self.focus;
                self.field_mut(field).edit(key);
            }
        }
        FormKey::Consumed
    }

    /// The answer to the request queued with `tag`: on success the form's
    /// work is done and the app gets the [`SignedIn`].
    pub fn on_reply(&mut self, tag: u64, result: Result<Reply, String>) -> Option<SignedIn> {
        if self.waiting != Some(tag) {
            return None;
        }
        self.waiting = None;
        match result {
            Ok(Reply::Base(BaseReply::Session {
                user,
                token,
                expires_at_ms,
            })) => Some(SignedIn {
                user: user.name,
                user_id: user.id,
                token,
                expires_at_ms,
            }),
            Ok(other) => {
                tracing::debug!(?other, "unexpected answer to a sign-in");
                self.error = Some("unexpected answer from the daemon".into());
                None
            }
            Err(message) => {
                self.error = Some(message);
                // Wrong name or password: the password is typed again.
                self.password.clear();
                self.confirm.clear();
                self.focus = Field::Password;
                None
            }
        }
    }

    fn field_mut(&mut self, field: Field) -> &mut LineEditor {
        match field {
            Field::Name => &mut self.name,
            Field::Password => &mut self.password,
            Field::Confirm => &mut self.confirm,
        }
    }

    fn switch_mode(&mut self) {
        self.mode = match self.mode {
            Mode::SignIn => Mode::Register,
            Mode::Register => Mode::SignIn,
        };
        if !self.fields().contains(&self.focus) {
            self.focus = Field::Password;
        }
        self.error = None;
    }

    fn move_focus(&mut self, by: isize) {
        let fields = self.fields();
        let at = fields.iter().position(|f| *f == self.focus).unwrap_or(0) as isize;
        let len = fields.len() as isize;
        self.focus = fields[((at + by) % len + len) as usize % fields.len()];
    }

    /// Checks the fields and queues the request, or says what is wrong
    /// and puts the keyboard where the fix goes.
    fn submit(&mut self) {
        let name = match validate_user_name(&self.name.text()) {
            Ok(name) => name,
            Err(why) => return self.complain(Field::Name, why),
        };
        let password = self.password.text();
        let op = match self.mode {
            Mode::SignIn if password.is_empty() => {
                return self.complain(Field::Password, "type your password".into());
            }
            Mode::SignIn => BaseOp::Login { name, password },
            Mode::Register => {
                if let Err(why) = validate_password(&password) {
                    return self.complain(Field::Password, why);
                }
                if self.confirm.text() != password {
                    self.confirm.clear();
                    return self.complain(
                        Field::Confirm,
                        "the two passwords differ: type it again".into(),
                    );
                }
                BaseOp::Register { name, password }
            }
        };
        self.next_tag += 1;
        let tag = self.next_tag;
        self.waiting = Some(tag);
        self.error = None;
        self.outbox.push(Outgoing { tag, op: op.into() });
    }

    fn complain(&mut self, field: Field, why: String) {
        self.focus = field;
        self.error = Some(why);
    }
}

/// The password rules, as the register form states them.
pub fn password_rules() -> String {
    format!("at least {MIN_PASSWORD} bytes, at most {MAX_PASSWORD}")
}

#[cfg(test)]
mod tests;
