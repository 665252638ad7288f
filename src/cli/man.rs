//! The man page, rendered from the clap definitions plus the exit-code table.

use super::args::Cli;
use super::exit::ExitCode;
use clap::CommandFactory;

/// Renders `man/rtprec.1`: the top-level page, one section per subcommand, exit status.
pub fn render() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    for sub in cmd.get_subcommands() {
        let name = format!("{} {}", cmd.get_name(), sub.get_name());
        let sub = sub.clone().bin_name(name.clone());
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let sman = clap_mangen::Man::new(sub);
        let mut body = Vec::new();
        sman.render_synopsis_section(&mut body)?;
        sman.render_description_section(&mut body)?;
        sman.render_options_section(&mut body)?;
        // Nested under the subcommand's heading: demote its sections to subsections.
        let body = String::from_utf8_lossy(&body).replace(".SH ", ".SS ");
        out.extend_from_slice(body.as_bytes());
    }
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in ExitCode::ALL {
        out.extend_from_slice(format!(".TP\n\\fB{}\\fR\n{}\n", code.code(), meaning).as_bytes());
    }
    out.extend_from_slice(EXTRA.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

const EXTRA: &str = r#".SH "OUTPUT"
Data goes to standard output (the table, or JSON with \fB\-\-json\fR); warnings and
progress go to standard error, progress only when it is a terminal.
Warnings name the file, the frame number and the byte offset of the first
record that showed each kind of problem.
.SH "EXAMPLES"
.TP
\fBrtprec streams testdata/demo\-2peers\-opus\-vp8.pcap\fR
List the RTP streams of the demo capture.
.TP
\fBzcat call.pcap.gz | rtprec streams \-\-json \- | jq '.streams[].lost'\fR
Loss per stream of a capture read from standard input.
.SH "SEE ALSO"
\fBtshark\fR(1), \fBtcpdump\fR(1), \fBrtpdump\fR(1)
"#;
