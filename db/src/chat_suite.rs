//! The chat repository's suite ([`crate::chat::ChatStore`]), run once per
//! backend: SQLite's `Chat` and PostgreSQL's `PgChat` must agree.

use crate::chat::{DirectMessage, Message, Room};
use crate::{Access, Storage};

crate::on_both_backends!(
    rooms_memberships_and_topics,
    appends_number_each_room_without_gaps_and_page_through_history,
    concurrent_appends_to_one_room_take_turns_without_gaps,
    private_messages_are_taken_once_and_conversations_mark_read,
    last_seen_and_away_messages_belong_to_the_user,
    a_batch_stores_room_and_private_messages_together,
);

fn users(storage: &Storage, names: &[&str]) {
    for name in names {
        storage
            .users(Access::Write, |u| u.create(name, "h"))
            .unwrap();
    }
}

fn msg(room: &str, sender: &str, text: &str) -> Message {
    Message {
        room: room.into(),
        seq: 0,
        sender: sender.into(),
        text: text.into(),
        action: text.starts_with("/me"),
        ts_ms: 1_700_000_000_000,
    }
}

fn seqs(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}

fn rooms_memberships_and_topics(storage: &Storage) {
    users(storage, &["alice", "bob"]);
    storage
        .chat(Access::Write, |c| {
            c.ensure_room("general")?;
            c.ensure_room("general")?;
            c.ensure_room("dev")?;
            assert!(c.join("general", "alice")?);
            assert!(!c.join("general", "alice")?);
            assert!(c.join("general", "bob")?);
            assert!(c.join("dev", "bob")?);
            assert!(c.leave("dev", "bob")?);
            assert!(!c.leave("dev", "bob")?);
            c.set_topic("general", "hello")
        })
        .unwrap();
    let (rooms, members) = storage
        .chat(Access::Read, |c| Ok((c.rooms()?, c.memberships()?)))
        .unwrap();
    assert_eq!(
        rooms,
        vec![
            Room {
                name: "dev".into(),
                topic: String::new()
            },
            Room {
                name: "general".into(),
                topic: "hello".into()
            },
        ]
    );
    assert_eq!(
        members,
        vec![
            ("general".to_owned(), "alice".to_owned()),
            ("general".to_owned(), "bob".to_owned())
        ]
    );
    // A membership needs an account.
    assert!(
        storage
            .chat(Access::Write, |c| c.join("general", "nobody"))
            .is_err()
    );
}

fn appends_number_each_room_without_gaps_and_page_through_history(storage: &Storage) {
    users(storage, &["alice"]);
    storage
        .chat(Access::Write, |c| {
            c.ensure_room("a")?;
            c.ensure_room("b")
        })
        .unwrap();
    let mut first = vec![
        msg("a", "alice", "a1"),
        msg("b", "alice", "b1"),
        msg("a", "alice", "/me a2"),
    ];
    storage
        .chat(Access::Write, |c| c.append_messages(&mut first))
        .unwrap();
    assert_eq!(seqs(&first), vec![1, 1, 2]);
    let mut more: Vec<Message> = (3..=10)
        .map(|i| msg("a", "alice", &format!("a{i}")))
        .collect();
    storage
        .chat(Access::Write, |c| c.append_messages(&mut more))
        .unwrap();
    assert_eq!(seqs(&more), (3..=10).collect::<Vec<_>>());
    storage
        .chat(Access::Read, |c| {
            assert_eq!(
                c.last_seqs()?,
                vec![("a".to_owned(), 10), ("b".to_owned(), 1)]
            );
            let (page, older) = c.history_before("a", None, 3)?;
            assert_eq!(seqs(&page), vec![8, 9, 10]);
            assert!(older);
            assert_eq!(page[0].text, "a8");
            let (page, older) = c.history_before("a", Some(3), 5)?;
            assert_eq!(seqs(&page), vec![1, 2]);
            assert!(!older);
            assert!(page[1].action && !page[0].action);
            assert_eq!(page[1].ts_ms, 1_700_000_000_000);
            let (page, newer) = c.history_since("a", 7, 2)?;
            assert_eq!(seqs(&page), vec![8, 9]);
            assert!(newer);
            let (page, newer) = c.history_since("a", 8, 5)?;
            assert_eq!(seqs(&page), vec![9, 10]);
            assert!(!newer);
            assert_eq!(c.history_since("nowhere", 0, 5)?, (Vec::new(), false));
            Ok(())
        })
        .unwrap();
}

fn concurrent_appends_to_one_room_take_turns_without_gaps(storage: &Storage) {
    users(storage, &["w0", "w1", "w2", "w3"]);
    storage
        .chat(Access::Write, |c| c.ensure_room("general"))
        .unwrap();
    // Four writers (a fleet's daemons: PostgreSQL's pool holds four
    // connections), 25 batches of two each.
    let batches: Vec<Vec<Message>> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                s.spawn(move || {
                    (0..25)
                        .map(|b| {
                            let mut batch = vec![
                                msg("general", &format!("w{w}"), &format!("{w}:{b}:0")),
                                msg("general", &format!("w{w}"), &format!("{w}:{b}:1")),
                            ];
                            storage
                                .chat(Access::Write, |c| c.append_messages(&mut batch))
                                .unwrap();
                            batch
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut all: Vec<i64> = batches.iter().flat_map(|b| seqs(b)).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<_>>(), "gapless, no repeats");
    for batch in &batches {
        assert_eq!(batch[1].seq, batch[0].seq + 1, "a batch is contiguous");
    }
    let (stored, more) = storage
        .chat(Access::Read, |c| c.history_since("general", 0, 500))
        .unwrap();
    assert!(!more);
    assert_eq!(seqs(&stored), (1..=200).collect::<Vec<_>>());
    for batch in &batches {
        for m in batch {
            assert_eq!(stored[m.seq as usize - 1].text, m.text);
        }
    }
}

fn private_messages_are_taken_once_and_conversations_mark_read(storage: &Storage) {
    users(storage, &["ann", "bob", "cy"]);
    let dm = |from: &str, to: &str, text: &str| DirectMessage {
        id: 0,
        sender: from.into(),
        recipient: to.into(),
        text: text.into(),
        action: false,
        ts_ms: 5,
    };
    storage
        .chat(Access::Write, |c| {
            let a = c.insert_direct(&dm("ann", "bob", "1"))?;
            let b = c.insert_direct(&dm("cy", "bob", "2"))?;
            let d = c.insert_direct(&dm("ann", "bob", "3"))?;
            assert!(a < b && b < d, "{a} {b} {d}");
            c.insert_direct(&dm("bob", "ann", "4"))?;
            assert_eq!(c.unread_count("bob")?, 3);
            let taken = c.take_unread("bob", 2)?;
            assert_eq!(
                taken.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                vec!["1", "2"]
            );
            assert_eq!(taken[0].sender, "ann");
            assert_eq!(taken[0].id, a);
            assert_eq!(c.unread_count("bob")?, 1);
            let rest = c.take_unread("bob", 10)?;
            assert_eq!(rest.len(), 1);
            assert_eq!(rest[0].text, "3");
            assert!(c.take_unread("bob", 10)?.is_empty());
            // ann's side of her conversation with bob: oldest first, the
            // newest two, and what bob sent her is now read.
            assert_eq!(c.unread_count("ann")?, 1);
            let convo = c.conversation("ann", "bob", 2)?;
            assert_eq!(
                convo.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
                vec!["3", "4"]
            );
            assert_eq!(c.unread_count("ann")?, 0);
            Ok(())
        })
        .unwrap();
}

fn last_seen_and_away_messages_belong_to_the_user(storage: &Storage) {
    users(storage, &["ann", "bob"]);
    storage
        .chat(Access::Write, |c| {
            assert!(c.user_exists("ann")?);
            assert!(!c.user_exists("nobody")?);
            c.touch_last_seen("ann", 42)?;
            assert_eq!(
                c.users_last_seen()?,
                vec![("ann".to_owned(), 42), ("bob".to_owned(), 0)]
            );
            c.set_away("bob", Some("lunch"))?;
            c.set_away("ann", Some("out"))?;
            c.set_away("ann", None)?;
            assert_eq!(
                c.users_away()?,
                vec![("bob".to_owned(), "lunch".to_owned())]
            );
            Ok(())
        })
        .unwrap();
}

fn a_batch_stores_room_and_private_messages_together(storage: &Storage) {
    users(storage, &["alice", "bob"]);
    storage.chat(Access::Write, |c| c.ensure_room("a")).unwrap();
    let dm = |to: &str, text: &str| DirectMessage {
        id: 0,
        sender: "alice".into(),
        recipient: to.into(),
        text: text.into(),
        action: false,
        ts_ms: 5,
    };
    let mut rooms = vec![msg("a", "alice", "one"), msg("a", "alice", "two")];
    let mut directs = vec![dm("bob", "psst"), dm("bob", "again")];
    storage
        .chat(Access::Write, |c| c.store_batch(&mut rooms, &mut directs))
        .unwrap();
    assert_eq!(seqs(&rooms), vec![1, 2]);
    assert!(directs[0].id > 0 && directs[1].id > directs[0].id);
    let mut rooms = vec![msg("a", "alice", "three")];
    storage
        .chat(Access::Write, |c| c.store_batch(&mut rooms, &mut []))
        .unwrap();
    assert_eq!(seqs(&rooms), vec![3]);
    let unread = storage
        .chat(Access::Write, |c| c.take_unread("bob", 10))
        .unwrap();
    assert_eq!(unread, directs);
}
