//! Colours and sizes: the basic 16 colours only, folded onto 8 or none by
//! the palette; below the minimum size, a "terminal too small" screen.

use ratatui::layout::Position;

use super::*;

/// Scenes that between them use every colour the views draw with.
fn colourful_scenes() -> Vec<App> {
    let mut help = connected();
    help.handle_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    let mut dashboard = reconnecting();
    dashboard.select_tab(TabId::Dashboard);
    let mut error = chat_scene();
    type_text(&mut error, "/nosuch");
    error.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    vec![
        connected(),
        help,
        reconnecting(),
        dashboard,
        chat_scene(),
        error,
        cache_scene(),
    ]
}

/// Draws `app` at 80x24 through `palette`.
fn draw_with(app: &App, palette: Palette) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal
        .draw(|f| {
            render(app, f);
            palette.apply(f.buffer_mut());
        })
        .expect("draw");
    terminal.backend().buffer().clone()
}

#[test]
fn only_basic_colours_are_used() {
    for app in colourful_scenes() {
        let buf = draw_with(&app, Palette::Sixteen);
        let mut coloured = 0;
        for cell in buf.content() {
            for colour in [cell.fg, cell.bg] {
                assert!(
                    !matches!(colour, Color::Rgb(..) | Color::Indexed(_)),
                    "{colour:?} is not one of the 16 basic colours"
                );
                coloured += usize::from(colour != Color::Reset);
            }
        }
        assert!(coloured > 0, "nothing was coloured at all");
    }
}

#[test]
fn eight_colour_terminals_get_only_the_basic_eight() {
    let mut bright = 0;
    for app in colourful_scenes() {
        let drawn = draw_with(&app, Palette::Sixteen);
        bright += drawn
            .content()
            .iter()
            .filter(|c| !Palette::Eight.allows(c.fg) || !Palette::Eight.allows(c.bg))
            .count();
        let buf = draw_with(&app, Palette::Eight);
        for (cell, before) in buf.content().iter().zip(drawn.content()) {
            for colour in [cell.fg, cell.bg] {
                assert!(
                    matches!(
                        colour,
                        Color::Reset
                            | Color::Black
                            | Color::Red
                            | Color::Green
                            | Color::Yellow
                            | Color::Blue
                            | Color::Magenta
                            | Color::Cyan
                            | Color::Gray
                    ),
                    "{colour:?} is not one of the 8 basic colours"
                );
            }
            // Only colours change: text and modifiers stay.
            assert_eq!(
                (cell.symbol(), cell.modifier),
                (before.symbol(), before.modifier)
            );
        }
        assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
    }
    assert!(bright > 0, "the scenes used no bright colour to fold");
}

#[test]
fn dumb_terminals_and_no_color_get_no_colour_at_all() {
    let palette = Palette::detect(true, Some("dumb"), 8);
    assert_eq!(palette, Palette::detect(false, Some("xterm-256color"), 256));
    for app in colourful_scenes() {
        let drawn = draw_with(&app, Palette::Sixteen);
        let buf = draw_with(&app, palette);
        for (cell, before) in buf.content().iter().zip(drawn.content()) {
            assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
            assert_eq!(
                (cell.symbol(), cell.modifier),
                (before.symbol(), before.modifier)
            );
        }
        // Bold and reverse survive: the tab bar still shows its tab.
        assert!(
            buf.content()
                .iter()
                .any(|c| c.modifier.contains(Modifier::REVERSED))
        );
    }
}

#[test]
fn tiny_terminals_do_not_panic_and_say_what_they_need() {
    let mut app = reconnecting();
    app.handle_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    for (w, h) in [
        (0, 0),
        (1, 1),
        (10, 3),
        (20, 5),
        (80, 2),
        (59, 24),
        (80, 15),
        (40, 12),
        (60, 16),
        (80, 24),
        (120, 40),
    ] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        terminal.draw(|f| render(&app, f)).expect("draw");
        let text = buffer_text(terminal.backend().buffer());
        let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let small = w < 60 || h < 16;
        if small && w >= 20 && h >= 4 {
            assert!(
                squeezed.contains(&format!(
                    "terminal too small: {w}×{h}, needs at least 60×16"
                )),
                "{w}x{h}:\n{text}"
            );
            assert!(!text.contains("agora"), "no broken layout:\n{text}");
        }
        if !small {
            assert!(!text.contains("too small"), "{w}x{h}:\n{text}");
            assert!(
                text.contains("1 Chat") && text.contains("Global keys"),
                "{text}"
            );
        }
    }
}

#[test]
fn snapshot_too_small() {
    let app = connected();
    let mut terminal = Terminal::new(TestBackend::new(50, 12)).expect("test backend");
    terminal.draw(|f| render(&app, f)).expect("draw");
    assert_eq!(
        terminal.get_cursor_position().ok(),
        Some(Position::new(0, 0)),
        "no cursor placed"
    );
    insta::assert_snapshot!("too_small", buffer_text(terminal.backend().buffer()));
}
