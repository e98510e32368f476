//! `/help` and the input line's editing keys.

use super::*;

#[test]
fn help_lists_every_command_and_describes_one() {
    let mut chat = ready();
    type_line(&mut chat, "/help");
    assert!(chat.help_shown());
    assert!(chat.notice().is_none(), "no error: /help is a command");
    assert!(chat.take_outbox().is_empty(), "nothing for the daemon");
    let shown: Vec<String> = lines::lines(&chat, 46)
        .iter()
        .map(|l| l.to_string())
        .collect();
    for spec in &command::COMMANDS {
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with(&spec.usage()) && l.contains(spec.summary)),
            "{} missing from {shown:#?}",
            spec.name
        );
    }
    // Esc closes it, and so does the next line sent.
    chat.handle_key(key(KeyCode::Esc));
    assert!(!chat.help_shown());
    type_line(&mut chat, "/help");
    type_line(&mut chat, "/help join");
    assert!(!chat.help_shown());
    let notice = chat.notice().expect("notice");
    assert_eq!(notice.level, Level::Info);
    assert_eq!(notice.text, "/join ROOM — join (or create) a room");
    type_line(&mut chat, "/help /part");
    assert!(chat.notice().unwrap().text.contains("(also /part)"));
    type_line(&mut chat, "/help dance");
    assert_eq!(chat.notice().unwrap().level, Level::Error);
    assert_eq!(
        chat.input().text(),
        "/help dance",
        "the line stays for fixing"
    );
    // Completion offers it too.
    chat.handle_key(ctrl('u'));
    for c in "/he".chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    chat.handle_key(key(KeyCode::Tab));
    assert_eq!(chat.input().text(), "/help ");
}

#[test]
fn the_input_line_takes_ctrl_u_home_and_end() {
    let mut chat = ready();
    for c in "hello world".chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    assert_eq!(chat.handle_key(key(KeyCode::Home)), KeyOutcome::Consumed);
    assert_eq!(chat.input().cursor(), 0);
    chat.handle_key(key(KeyCode::Char('>')));
    assert_eq!(chat.handle_key(key(KeyCode::End)), KeyOutcome::Consumed);
    chat.handle_key(key(KeyCode::Char('!')));
    assert_eq!(chat.input().text(), ">hello world!");
    chat.handle_key(ctrl('a'));
    chat.handle_key(ctrl('k'));
    assert!(chat.input().is_empty());
    for c in "gG".chars() {
        chat.handle_key(key(KeyCode::Char(c)));
    }
    assert_eq!(chat.input().text(), "gG", "g and G are typed in the chat");
    assert_eq!(chat.handle_key(ctrl('u')), KeyOutcome::Consumed);
    assert!(chat.input().is_empty());
    // On an empty line, Left and Right are the shell's (tab switching).
    assert_eq!(chat.handle_key(key(KeyCode::Left)), KeyOutcome::NotConsumed);
}
