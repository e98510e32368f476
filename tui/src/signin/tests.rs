//! State tests of the sign-in form: no socket, no clock.

use agora_wire::{BaseOp, BaseReply, Op, Reply, UserInfo};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_text(form: &mut SignInForm, text: &str) {
    for c in text.chars() {
        assert_eq!(form.handle_key(key(KeyCode::Char(c))), FormKey::Consumed);
    }
}

fn session(name: &str) -> Result<Reply, String> {
    Ok(Reply::Base(BaseReply::Session {
        user: UserInfo {
            id: 7,
            name: name.into(),
        },
        token: "jwt".into(),
        expires_at_ms: 99,
    }))
}

#[test]
fn signs_in_with_a_name_and_a_masked_password() {
    let mut form = SignInForm::new(None);
    assert_eq!((form.mode(), form.focus()), (Mode::SignIn, Field::Name));
    type_text(&mut form, "Alice");
    form.handle_key(key(KeyCode::Tab));
    assert_eq!(form.focus(), Field::Password);
    type_text(&mut form, "secret password");
    assert_eq!(
        form.field(Field::Password).view(40, Some('•')).0,
        "•".repeat(15)
    );
    assert!(
        !format!("{form:?}").contains("secret"),
        "no password in Debug: {form:?}"
    );
    form.handle_key(key(KeyCode::Enter));
    assert!(!format!("{form:?}").contains("secret"), "{form:?}");
    let out = form.take_outbox();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].op,
        Op::Base(BaseOp::Login {
            name: "alice".into(),
            password: "secret password".into()
        }),
        "the name is folded as the daemon folds it"
    );
    assert!(form.waiting() && form.owns(out[0].tag));
    // While waiting, keys change nothing; Esc still closes.
    type_text(&mut form, "x");
    form.handle_key(key(KeyCode::Enter));
    assert!(form.take_outbox().is_empty());
    assert_eq!(form.field(Field::Password).text(), "secret password");
    // A stray answer is not ours.
    assert_eq!(form.on_reply(out[0].tag + 1, session("alice")), None);
    let signed = form
        .on_reply(out[0].tag, session("alice"))
        .expect("signed in");
    assert_eq!(
        signed,
        SignedIn {
            user: "alice".into(),
            user_id: 7,
            token: "jwt".into(),
            expires_at_ms: 99
        }
    );
    assert!(
        !format!("{signed:?}").contains("jwt"),
        "the token is redacted"
    );
}

#[test]
fn mistakes_are_shown_in_the_form_before_anything_is_sent() {
    let mut form = SignInForm::new(None);
    form.handle_key(key(KeyCode::Enter));
    assert_eq!(form.error(), Some("user name is empty"));
    assert_eq!(form.focus(), Field::Name);
    type_text(&mut form, "bad name");
    assert_eq!(
        form.error(),
        Some("user name is empty"),
        "shown while fixing"
    );
    form.handle_key(key(KeyCode::Enter));
    assert!(form.error().unwrap().contains("' '"), "{:?}", form.error());
    form.handle_key(ctrl('u'));
    type_text(&mut form, "bob");
    form.handle_key(key(KeyCode::Enter));
    assert_eq!(form.error(), Some("type your password"));
    assert_eq!(form.focus(), Field::Password);
    assert!(form.take_outbox().is_empty());
    // The daemon says no: the error shows, the password is typed again.
    type_text(&mut form, "wrong-password");
    form.handle_key(key(KeyCode::Enter));
    let out = form.take_outbox();
    let refused = Err("wrong user name or password (unauthorized)".to_string());
    assert_eq!(form.on_reply(out[0].tag, refused), None);
    assert_eq!(
        form.error(),
        Some("wrong user name or password (unauthorized)")
    );
    assert!(!form.waiting());
    assert!(form.field(Field::Password).is_empty());
    assert_eq!(form.field(Field::Name).text(), "bob");
    assert_eq!(form.focus(), Field::Password);
}

#[test]
fn registering_asks_the_password_twice_and_checks_the_rules() {
    let mut form = SignInForm::new(Some("carol"));
    assert_eq!(form.focus(), Field::Password, "the name is known");
    form.handle_key(ctrl('r'));
    assert_eq!(form.mode(), Mode::Register);
    assert_eq!(
        form.fields(),
        [Field::Name, Field::Password, Field::Confirm]
    );
    type_text(&mut form, "short");
    form.handle_key(key(KeyCode::Enter));
    assert!(
        form.error().unwrap().contains("at least 8"),
        "{:?}",
        form.error()
    );
    form.handle_key(ctrl('u'));
    type_text(&mut form, "long enough");
    form.handle_key(key(KeyCode::Down));
    assert_eq!(form.focus(), Field::Confirm);
    type_text(&mut form, "long enougg");
    form.handle_key(key(KeyCode::Enter));
    assert_eq!(
        form.error(),
        Some("the two passwords differ: type it again")
    );
    assert_eq!(form.focus(), Field::Confirm);
    assert!(form.field(Field::Confirm).is_empty());
    type_text(&mut form, "long enough");
    form.handle_key(key(KeyCode::Enter));
    let out = form.take_outbox();
    assert_eq!(
        out[0].op,
        Op::Base(BaseOp::Register {
            name: "carol".into(),
            password: "long enough".into()
        })
    );
    assert!(form.on_reply(out[0].tag, session("carol")).is_some());
    // Tab cycles through the fields shown; switching back hides Again.
    let mut form = SignInForm::new(None);
    form.handle_key(ctrl('r'));
    for expected in [Field::Password, Field::Confirm, Field::Name] {
        form.handle_key(key(KeyCode::Tab));
        assert_eq!(form.focus(), expected);
    }
    form.handle_key(key(KeyCode::BackTab));
    assert_eq!(form.focus(), Field::Confirm);
    form.handle_key(ctrl('r'));
    assert_eq!(form.focus(), Field::Password);
    assert_eq!(form.fields(), [Field::Name, Field::Password]);
    assert_eq!(form.handle_key(key(KeyCode::Esc)), FormKey::Close);
}
