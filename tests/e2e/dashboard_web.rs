//! `/dashboard` in a real headless Chromium: the page loads, its chart
//! gets points that arrive after it loaded, an alert that fires during the
//! test shows up, the page counts as a viewer; the data endpoints refuse
//! requests without a valid token.

use std::time::Duration;

use crate::browser::Browser;
use crate::support::{Daemon, Home, rt, saved_token, wait_for};

#[test]
fn the_dashboard_page_shows_live_points_alerts_and_viewers() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--metrics-interval", "200ms"]);
    home.register(&daemon.addr, "alice", "alice-password");
    let token = saved_token(&home, &daemon.addr);

    // Without a token (or with a bad one) the data is refused.
    let rt = rt();
    let (status, body) = rt.block_on(daemon.http_get("/dashboard/events"));
    assert_eq!(status, 401, "{body}");
    let (status, _) = rt.block_on(
        daemon.http_get("/dashboard/range?metric=cpu.total&from=0&to=1000&step=1000&token=nope"),
    );
    assert_eq!(status, 401);
    let (status, page) = rt.block_on(daemon.http_get("/dashboard"));
    assert_eq!(status, 200);
    assert!(
        page.contains("<canvas id=\"chart\""),
        "the page is self-contained"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no CDN"
    );

    let browser = rt.block_on(Browser::start());
    let eval = |script: &str| {
        rt.block_on(browser.client.execute(script, vec![]))
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    };
    rt.block_on(browser.client.goto(&format!(
        "http://{}/dashboard#token={token}",
        daemon.ready.http
    )))
    .expect("the page loads");
    // Points that arrive after the page loaded reach the chart.
    wait_for("live points in the chart", Duration::from_secs(30), || {
        let n = eval("return Number(document.body.dataset.livePoints || 0)").as_u64()?;
        let title = eval("return document.getElementById('title').textContent");
        (n >= 3 && title.as_str()?.contains("points")).then_some(())
    });
    let points: u64 = eval("return state.live.length")
        .as_u64()
        .expect("the chart's samples");
    assert!(points >= 3);
    // The page is a viewer.
    wait_for(
        "the page among the viewers",
        Duration::from_secs(10),
        || {
            let v = eval("return document.getElementById('viewers').textContent");
            v.as_str()?.contains("alice (web)").then_some(())
        },
    );
    // An alert that fires now appears, firing.
    let out = home.run(
        &[
            "--addr",
            &daemon.addr,
            "alerts",
            "add",
            "always",
            "cpu.total >= 0",
            "--for",
            "0s",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    wait_for(
        "the firing alert on the page",
        Duration::from_secs(30),
        || {
            let firing = eval(
                "return [...document.querySelectorAll('#alerts li[data-state=firing]')].map(e => e.dataset.alert)",
            );
            firing
                .as_array()?
                .iter()
                .any(|a| a == "always")
                .then_some(())
        },
    );
    // History: the range endpoint answers for the chart's metric.
    let history = eval(
        "const r = new XMLHttpRequest(); \
         r.open('GET', '/dashboard/range?metric=cpu.total&from=' + (Date.now() - 600000) + \
           '&to=' + Date.now() + '&step=1000&token=' + encodeURIComponent(state.token), false); \
         r.send(); return [r.status, JSON.parse(r.responseText).metric];",
    );
    assert_eq!(history, serde_json::json!([200, "cpu.total"]));
}
