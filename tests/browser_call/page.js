// Shared by call.html (both peers in one page) and cross.html (one peer per
// browser, signalling through serve.py).
const params = new URLSearchParams(location.search);
const SECONDS = Number(params.get("seconds") || 6);
const log = (m) => { document.getElementById("log").textContent += m + "\n"; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function post(path, body) {
  return fetch(path, { method: "POST", body: JSON.stringify(body) });
}

// A canvas whose every frame differs: a frame counter and a moving block.
function screenTrack() {
  const c = document.getElementById("screen");
  const g = c.getContext("2d");
  let n = 0;
  setInterval(() => {
    n++;
    g.fillStyle = `hsl(${(n * 7) % 360} 60% 40%)`;
    g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = "#fff";
    g.fillRect((n * 5) % c.width, (n * 3) % c.height, 40, 40);
    g.font = "48px monospace";
    g.fillText(String(n), 20, 120);
  }, 1000 / 15);
  return c.captureStream(15).getVideoTracks()[0];
}

// Peer A's media: fake microphone and camera, and the canvas "screen".
async function mediaA() {
  const camMic = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const screen = new MediaStream([screenTrack()]);
  return { camMic, screen };
}

// The offer as signalled: the canvas stream is named "screen-..." (its msid),
// as apps label screen shares; rtprec's SDP reader takes that as source screen.
function labelScreen(sdp, screen) {
  return sdp.replaceAll(screen.id, "screen-" + screen.id);
}

// Every stats report of `pc` as a plain object, keyed by id.
async function allStats(pc) {
  const out = {};
  (await pc.getStats()).forEach((r) => { out[r.id] = Object.assign({}, r); });
  return out;
}

// What each sender carries, by peer and mid: microphone, camera or screen.
const roles = {};
function noteRoles(pc, peer, screen) {
  for (const t of pc.getTransceivers()) {
    const track = t.sender.track;
    if (!track) continue;
    roles[peer + t.mid] = track === screen ? "screen" : track.kind === "audio" ? "microphone" : "camera";
  }
}

// One summary per outbound-rtp: the fields the tests compare with the capture.
function outbound(stats, peer) {
  const rows = [];
  for (const r of Object.values(stats)) {
    if (r.type !== "outbound-rtp") continue;
    const codec = stats[r.codecId] || {};
    rows.push({
      peer, role: roles[peer + r.mid], ssrc: r.ssrc, rtxSsrc: r.rtxSsrc, kind: r.kind, mid: r.mid,
      packetsSent: r.packetsSent, bytesSent: r.bytesSent,
      retransmittedPacketsSent: r.retransmittedPacketsSent,
      framesEncoded: r.framesEncoded, framesSent: r.framesSent,
      payloadType: codec.payloadType, mimeType: codec.mimeType,
    });
  }
  return rows;
}

function waitGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((r) => pc.addEventListener("icegatheringstatechange",
    () => pc.iceGatheringState === "complete" && r()));
}

function waitConnected(pc) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve();
      if (pc.connectionState === "failed") reject(new Error("connection failed"));
    };
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

// Stops every sender of `pcs` so that their counters are final: no track (a
// Firefox audio sender with inactive encodings still sends) and inactive
// encodings (a Firefox video sender without a track still sends a frame a
// second). Then reads the stats until two reads half a second apart agree;
// returns one stats object per pc.
async function stopAndReadStats(pcs) {
  for (const pc of pcs) {
    for (const s of pc.getSenders()) {
      await s.replaceTrack(null);
      const p = s.getParameters();
      for (const e of p.encodings) e.active = false;
      await s.setParameters(p);
    }
  }
  const sentCounts = (st) => JSON.stringify(Object.values(st)
    .filter((r) => r.type === "outbound-rtp").map((r) => [r.ssrc, r.packetsSent]));
  let stats, previous;
  for (let i = 0; i < 10; i++) {
    await sleep(500);
    stats = await Promise.all(pcs.map(allStats));
    const counts = stats.map(sentCounts).join("");
    post("/log", counts);
    if (counts === previous) return stats;
    previous = counts;
  }
  throw new Error(`packetsSent still growing 5 s after the senders stopped: ${previous}`);
}

function run(main) {
  main().catch((e) => {
    log("error: " + e);
    post("/results", { peer: params.get("peer"), error: `${e}\n${e && e.stack}` });
  });
}
