//! JUnit XML for a verification: the format CI systems display as test results.
//!
//! One `<testsuite name="rtprec verify">` with one `<testcase>` per track
//! (classname `room/session/peer`, name the track id); a failing track has a
//! `<failure>` whose message is its first failing line and whose text is its diff.

use super::{Report, VerifyError};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// The suite name every report uses.
pub const SUITE: &str = "rtprec verify";

/// Renders `report` as a JUnit XML document.
pub fn to_xml(report: &Report) -> Result<String, VerifyError> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(&mut w, report).map_err(|e| VerifyError::Xml(e.to_string()))?;
    let mut s = String::from_utf8(w.into_inner()).map_err(|e| VerifyError::Xml(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

fn write(w: &mut Writer<Vec<u8>>, report: &Report) -> std::io::Result<()> {
    let tests = report.tracks.len().to_string();
    let failures = report.failures().to_string();
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", SUITE));
    suites.push_attribute(("tests", tests.as_str()));
    suites.push_attribute(("failures", failures.as_str()));
    w.write_event(Event::Start(suites))?;
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", SUITE));
    suite.push_attribute(("tests", tests.as_str()));
    suite.push_attribute(("failures", failures.as_str()));
    suite.push_attribute(("errors", "0"));
    suite.push_attribute(("skipped", "0"));
    w.write_event(Event::Start(suite))?;
    if !report.notes.is_empty() {
        // Notes (e.g. files not decoded) belong to the run: system-out is where CI shows them.
        w.write_event(Event::Start(BytesStart::new("system-out")))?;
        w.write_event(Event::Text(BytesText::new(&report.notes.join("\n"))))?;
        w.write_event(Event::End(BytesEnd::new("system-out")))?;
    }
    for t in &report.tracks {
        let class = t.key.class();
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("classname", class.as_str()));
        case.push_attribute(("name", t.key.track_id.as_str()));
        let diff = t.diff_lines().join("\n");
        if t.passed() {
            if t.findings.is_empty() {
                w.write_event(Event::Empty(case))?;
            } else {
                // Differences within tolerance are worth seeing even on a pass.
                w.write_event(Event::Start(case))?;
                w.write_event(Event::Start(BytesStart::new("system-out")))?;
                w.write_event(Event::Text(BytesText::new(&diff)))?;
                w.write_event(Event::End(BytesEnd::new("system-out")))?;
                w.write_event(Event::End(BytesEnd::new("testcase")))?;
            }
            continue;
        }
        let message = t
            .findings
            .iter()
            .find(|f| f.fails())
            .map_or_else(String::new, |f| f.text().to_string());
        w.write_event(Event::Start(case))?;
        let mut failure = BytesStart::new("failure");
        failure.push_attribute(("message", message.as_str()));
        failure.push_attribute(("type", "mismatch"));
        w.write_event(Event::Start(failure))?;
        w.write_event(Event::Text(BytesText::new(&diff)))?;
        w.write_event(Event::End(BytesEnd::new("failure")))?;
        w.write_event(Event::End(BytesEnd::new("testcase")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    Ok(())
}

/// Counts of a JUnit document, read back: (testcases, failures), checking it is well-formed.
pub fn count(xml: &str) -> Result<(usize, usize), VerifyError> {
    let mut r = quick_xml::Reader::from_str(xml);
    r.config_mut().check_end_names = true;
    let (mut cases, mut failures) = (0, 0);
    loop {
        match r
            .read_event()
            .map_err(|e| VerifyError::Xml(e.to_string()))?
        {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => cases += 1,
                b"failure" => failures += 1,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((cases, failures))
}
