//! The sign-in form at 80x24 (and at the smallest screen).

use super::*;

fn not_signed_in() -> App {
    let mut app = App::new("127.0.0.1:7070", None);
    app.on_server(ServerEvent::Connected {
        session: 42,
        user: None,
    });
    app.on_server(ServerEvent::Latency(Duration::from_micros(12_400)));
    app
}

#[test]
fn snapshot_sign_in_form() {
    let mut app = not_signed_in();
    assert_eq!(app.overlay(), Overlay::SignIn, "opens by itself");
    type_text(&mut app, "dora");
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    type_text(&mut app, "hunter22");
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    serve(&mut app, |_| {
        Err("wrong user name or password (unauthorized)".into())
    });
    type_text(&mut app, "hunt");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal.draw(|f| render(&app, f)).expect("draw");
    let text = buffer_text(terminal.backend().buffer());
    assert!(text.contains("Sign in to 127.0.0.1:7070"), "{text}");
    assert!(text.contains("✗ wrong user name or password"), "{text}");
    assert!(text.contains("••••"), "{text}");
    assert!(!text.contains("hunt"), "the password is masked:\n{text}");
    // The cursor is in the password field, after the four dots.
    let cursor = terminal.get_cursor_position().expect("cursor");
    let row = text.lines().nth(usize::from(cursor.y)).unwrap_or_default();
    assert!(row.contains("Password"), "{row}");
    insta::assert_snapshot!("sign_in_form", text);
}

#[test]
fn snapshot_register_form_states_the_rules() {
    let mut app = not_signed_in();
    app.handle_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
    type_text(&mut app, "Dora");
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    type_text(&mut app, "longpassword");
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    type_text(&mut app, "longpasswort");
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.take_outbox().is_empty(), "the passwords differ");
    let text = screen(&app);
    assert!(text.contains("Register on 127.0.0.1:7070"), "{text}");
    assert!(text.contains("at least 8 bytes"), "{text}");
    assert!(text.contains("✗ the two passwords differ"), "{text}");
    insta::assert_snapshot!("register_form", text);
    // The smallest screen still holds it.
    let mut terminal = Terminal::new(TestBackend::new(60, 16)).expect("test backend");
    terminal.draw(|f| render(&app, f)).expect("draw");
    let small = buffer_text(terminal.backend().buffer());
    assert!(
        small.contains("Again") && small.contains("Esc closes"),
        "{small}"
    );
}
