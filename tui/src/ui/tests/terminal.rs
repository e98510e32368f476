//! The bytes a real terminal gets: frames drawn through crossterm into a
//! tiny terminal emulator (cursor moves, SGR, printing), so what ends up
//! bold on screen can be compared with what the buffer says.
//!
//! See: the "Conventions" issue, "bold applied to single letters of
//! Members with NO_COLOR".

use std::cell::RefCell;
use std::rc::Rc;

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::*;

/// Bytes written by the backend, shared with the test.
#[derive(Clone, Default)]
struct Bytes(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Bytes {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A terminal as far as bold goes: which character each cell shows and
/// whether it is bold.
struct Screen {
    width: usize,
    cells: Vec<(char, bool)>,
    at: usize,
    bold: bool,
}

impl Screen {
    fn new(width: u16, height: u16) -> Screen {
        let (width, height) = (usize::from(width), usize::from(height));
        Screen {
            width,
            cells: vec![(' ', false); width * height],
            at: 0,
            bold: false,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\x1b' {
                if let Some(cell) = self.cells.get_mut(self.at) {
                    *cell = (c, self.bold);
                }
                self.at += 1;
                continue;
            }
            assert_eq!(chars.next(), Some('['), "only CSI sequences are expected");
            let mut params = String::new();
            let end = loop {
                match chars.next() {
                    Some(c) if ('\x40'..='\x7e').contains(&c) => break c,
                    Some(c) => params.push(c),
                    None => return,
                }
            };
            match end {
                'H' => {
                    let mut n = params.split(';').map(|p| p.parse::<usize>().unwrap_or(1));
                    let (row, col) = (n.next().unwrap_or(1), n.next().unwrap_or(1));
                    self.at = (row - 1) * self.width + (col - 1);
                }
                'm' => self.sgr(&params),
                _ => {}
            }
        }
    }

    /// Select Graphic Rendition: an empty parameter is 0, a reset.
    fn sgr(&mut self, params: &str) {
        let mut list = params.split(';');
        while let Some(p) = list.next() {
            match p {
                "" | "0" | "22" => self.bold = false,
                "1" => self.bold = true,
                "38" | "48" | "58" => {
                    if list.next() == Some("2") {
                        list.nth(2);
                    } else {
                        list.next();
                    }
                }
                _ => {}
            }
        }
    }

    fn bold(&self, x: u16, y: u16) -> (char, bool) {
        self.cells[usize::from(y) * self.width + usize::from(x)]
    }
}

/// The chat scene's DMs view, then its #general room, drawn through
/// crossterm with `palette`; the screen a terminal would show, and the
/// last buffer.
fn draw_people_then_members(palette: Palette) -> (Screen, Buffer) {
    let mut app = chat_scene();
    let bytes = Bytes::default();
    let area = Rect::new(0, 0, 80, 24);
    let mut terminal = Terminal::with_options(
        CrosstermBackend::new(bytes.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(area),
        },
    )
    .expect("backend");
    let mut screen = Screen::new(80, 24);
    let mut draw = |app: &App| {
        let frame = terminal
            .draw(|f| {
                render(app, f);
                palette.apply(f.buffer_mut());
            })
            .expect("draw");
        let buffer = frame.buffer.clone();
        screen.feed(&bytes.0.borrow());
        bytes.0.borrow_mut().clear();
        buffer
    };
    app.handle_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL));
    serve(&mut app, |_| {
        Ok(ChatReply::Who {
            users: vec![presence("bob", Status::Away)],
        }
        .into())
    });
    draw(&app);
    app.handle_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL));
    serve(&mut app, |_| {
        Ok(ChatReply::Who {
            users: vec![
                presence("alice", Status::Online),
                presence("bob", Status::Away),
            ],
        }
        .into())
    });
    let buffer = draw(&app);
    (screen, buffer)
}

/// The cells of the " Members N" title: where it starts, and its length.
fn members_title(buffer: &Buffer) -> (u16, u16, u16) {
    let text = super::buffer_text(buffer);
    let (y, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("Members"))
        .expect("a Members title");
    let x = line[..line.find(" Members").unwrap()].chars().count() as u16;
    (x, y as u16, " Members 2".len() as u16)
}

/// Whether every cell of the title shows bold on `screen`, as the buffer
/// says it should.
fn title_on_screen(screen: &Screen, buffer: &Buffer) -> Vec<(char, bool)> {
    let (x0, y, len) = members_title(buffer);
    let modifiers: Vec<Modifier> = (x0..x0 + len).map(|x| buffer[(x, y)].modifier).collect();
    assert!(
        modifiers.iter().all(|m| *m == Modifier::BOLD),
        "the buffer gives every cell of the title the same modifiers: {modifiers:?}"
    );
    (x0..x0 + len).map(|x| screen.bold(x, y)).collect()
}

/// crossterm's colour switch is global: the tests that flip it take turns.
static COLOUR_SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn members_title_is_bold_on_screen_with_no_color_set() {
    let _turn = COLOUR_SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    // What NO_COLOR in the environment does to crossterm.
    crossterm::style::force_color_output(false);
    let (screen, buffer) = draw_people_then_members(Palette::Sixteen);
    let seen = title_on_screen(&screen, &buffer);
    assert!(
        seen.iter().any(|(_, bold)| !bold),
        "the cause: crossterm turns colour changes into SGR resets: {seen:?}"
    );

    // The fix: crossterm writes the colours it is given; whether to colour
    // is the palette's decision alone.
    crate::tui::write_colours_as_drawn();
    for palette in [Palette::Sixteen, Palette::Eight, Palette::Monochrome] {
        let (screen, buffer) = draw_people_then_members(palette);
        let seen = title_on_screen(&screen, &buffer);
        assert!(
            seen.iter().all(|(_, bold)| *bold),
            "{palette:?}: bold on single letters: {seen:?}"
        );
        let text: String = seen.iter().map(|(c, _)| c).collect();
        assert_eq!(text, " Members 2");
    }
}

#[test]
fn colours_go_out_as_basic_codes_never_256_colour_ones() {
    let _turn = COLOUR_SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    crate::tui::write_colours_as_drawn();
    for palette in [Palette::Sixteen, Palette::Eight] {
        let bytes = Bytes::default();
        let mut terminal = Terminal::with_options(
            CrosstermBackend::new(crate::sgr::BasicSgr::new(bytes.clone())),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
            },
        )
        .expect("backend");
        for app in [chat_scene(), cache_scene()] {
            terminal
                .draw(|f| {
                    render(&app, f);
                    palette.apply(f.buffer_mut());
                })
                .expect("draw");
        }
        let out = String::from_utf8_lossy(&bytes.0.borrow()).into_owned();
        assert!(!out.contains("38;5;") && !out.contains("48;5;"), "{out:?}");
        // Yellow (the mention), and red or green somewhere, as basic codes.
        let sent = |code: &str| {
            out.contains(&format!("\x1b[{code}m")) || out.contains(&format!("\x1b[{code};"))
        };
        assert!(sent("33"), "{palette:?}: {out:?}");
        let bright = ["90", "91", "92", "93", "94", "95", "96", "97"]
            .iter()
            .any(|c| sent(c));
        assert_eq!(bright, palette == Palette::Sixteen, "{palette:?}");
    }
}
