//! Naming rules shared by the server and its clients, so a client can
//! refuse a bad name before sending it and both say the same thing.

/// The longest user name, in bytes.
pub const MAX_USER_NAME: usize = 32;
/// The longest topic, in bytes.
pub const MAX_TOPIC: usize = 128;
/// The shortest password accepted at registration, in bytes.
pub const MIN_PASSWORD: usize = 8;
/// The longest password accepted, in bytes.
pub const MAX_PASSWORD: usize = 1024;

/// Checks and normalises a user name: 1 to 32 characters of `a-z`, `0-9`,
/// `_`, `-` and `.`, starting with a letter or digit. Upper-case ASCII is
/// folded to lower case first, so `Alice` and `alice` are the same account.
///
/// # Errors
/// A sentence naming the rule that was broken.
pub fn validate_user_name(name: &str) -> Result<String, String> {
    let folded = name.to_ascii_lowercase();
    if folded.is_empty() {
        return Err("user name is empty".into());
    }
    if folded.len() > MAX_USER_NAME {
        return Err(format!(
            "user name is {} bytes long; the limit is {MAX_USER_NAME}",
            folded.len()
        ));
    }
    let first = folded.as_bytes()[0];
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "user name {name:?} must start with a letter or digit"
        ));
    }
    if let Some(bad) = folded
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "user name {name:?} contains {bad:?}; use only a-z, 0-9, '_', '-' and '.'"
        ));
    }
    Ok(folded)
}

/// The longest room name, in bytes.
pub const MAX_ROOM: usize = 64;

/// Checks and normalises a chat room name: 1 to 64 characters of `a-z`,
/// `0-9`, `.`, `_` and `-`, after folding ASCII upper case to lower case
/// (`#General` is not valid; `General` is the room `general`).
///
/// # Errors
/// A sentence naming the rule that was broken.
pub fn validate_room(room: &str) -> Result<String, String> {
    let folded = room.to_ascii_lowercase();
    if folded.is_empty() {
        return Err("room name is empty".into());
    }
    if folded.len() > MAX_ROOM {
        return Err(format!(
            "room name is {} bytes long; the limit is {MAX_ROOM}",
            folded.len()
        ));
    }
    if let Some(bad) = folded
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "room name {room:?} contains {bad:?}; use 1-64 of a-z, 0-9, '.', '_' and '-'"
        ));
    }
    Ok(folded)
}

/// Checks a password's length: 8 to 1024 bytes.
///
/// # Errors
/// A sentence naming the limit.
pub fn validate_password(password: &str) -> Result<(), String> {
    if password.len() < MIN_PASSWORD {
        return Err(format!(
            "password is too short: at least {MIN_PASSWORD} characters"
        ));
    }
    if password.len() > MAX_PASSWORD {
        return Err(format!(
            "password is too long: at most {MAX_PASSWORD} bytes"
        ));
    }
    Ok(())
}

/// Checks a topic name: 1 to 128 characters of `a-z`, `0-9`, `.`, `_`, `-`
/// and `:`. Services name their topics with dots, e.g. `sessions` or
/// `chat.room.general`.
///
/// # Errors
/// A sentence naming the rule that was broken.
pub fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("topic is empty".into());
    }
    if topic.len() > MAX_TOPIC {
        return Err(format!(
            "topic is {} bytes long; the limit is {MAX_TOPIC}",
            topic.len()
        ));
    }
    if let Some(bad) = topic.chars().find(|c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | ':'))
    }) {
        return Err(format!(
            "topic {topic:?} contains {bad:?}; use only a-z, 0-9, '.', '_', '-' and ':'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_folded_and_checked() {
        assert_eq!(validate_user_name("Alice").unwrap(), "alice");
        assert_eq!(validate_user_name("bob_2.x-y").unwrap(), "bob_2.x-y");
        assert!(validate_user_name("").is_err());
        assert!(
            validate_user_name("_lead")
                .unwrap_err()
                .contains("start with")
        );
        assert!(
            validate_user_name("with space")
                .unwrap_err()
                .contains("' '")
        );
        assert!(validate_user_name("émile").is_err());
        assert!(
            validate_user_name(&"a".repeat(33))
                .unwrap_err()
                .contains("limit is 32")
        );
        assert!(validate_user_name(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn passwords_have_length_limits() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn rooms_are_folded_and_checked() {
        assert_eq!(validate_room("General").unwrap(), "general");
        assert_eq!(validate_room("ops.eu-1_x").unwrap(), "ops.eu-1_x");
        assert!(validate_room("#general").unwrap_err().contains("'#'"));
        assert!(validate_room("").is_err());
        assert!(validate_room(&"r".repeat(65)).is_err());
        assert!(validate_room(&"r".repeat(64)).is_ok());
    }

    #[test]
    fn topics_are_checked() {
        assert!(validate_topic("sessions").is_ok());
        assert!(validate_topic("chat.room.general").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("Upper").is_err());
        assert!(validate_topic(&"t".repeat(129)).is_err());
    }
}
