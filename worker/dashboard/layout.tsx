// The page frame shared by the dashboard and /docs: one small stylesheet, readable on a phone, no external assets.
import type { Child } from "hono/jsx";

const STYLE = `
:root { color-scheme: light; --fg:#1d232b; --muted:#5b6675; --line:#d9dee5; --bg:#f6f7f9; --card:#fff; --accent:#2457c5; --ok:#1a7f37; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:.5rem 1.25rem; align-items:center; padding:.6rem 1rem; background:#15202e; color:#fff; }
header a { color:#fff; text-decoration:none; }
header .brand { font-weight:700; letter-spacing:.02em; }
header nav { display:flex; gap:1rem; flex:1; }
header form { margin:0; }
main { max-width:80rem; margin:0 auto; padding:1rem; }
h1 { font-size:1.4rem; margin:.2rem 0 1rem; } h2 { font-size:1.1rem; margin:1.5rem 0 .5rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:1rem; margin-bottom:1rem; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
caption { text-align:left; color:var(--muted); padding-bottom:.3rem; }
th, td { padding:.4rem .6rem; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
th { font-weight:600; } thead th { background:#eef1f5; }
td.num, th.num { text-align:right; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:.88em; }
label { display:block; font-weight:600; margin-bottom:.3rem; }
input[type=text], input[type=password] { width:100%; max-width:28rem; padding:.5rem; font:inherit; border:1px solid var(--line); border-radius:6px; }
button { font:inherit; padding:.45rem 1rem; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
header button { background:transparent; border-color:#8aa0bf; padding:.2rem .7rem; }
.error { color:var(--bad); font-weight:600; }
.muted { color:var(--muted); }
.states { display:flex; height:.8rem; border-radius:4px; overflow:hidden; background:var(--line); margin:.3rem 0 .6rem; } .states .compressed { background:var(--ok); } .states .float { background:var(--muted); }
.charts { display:grid; align-items:start; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap:1rem; }
figure { margin:0; } figcaption { color:var(--muted); font-size:.9rem; margin-top:.3rem; }
svg.chart { width:100%; height:auto; display:block; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
progress { width:100%; height:1.2rem; }
.badge { display:inline-block; min-width:4.2rem; text-align:center; padding:.1rem .4rem; border-radius:4px; color:#fff; font-weight:700; font-size:.8rem; text-transform:uppercase; }
.m-get{background:#1a7f37}.m-post{background:#2457c5}.m-delete{background:#b42318}.m-patch{background:#9a6700}.m-put{background:#8250df}
details > summary { cursor:pointer; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; margin:0; } dl.kv dt { color:var(--muted); } dl.kv dd { margin:0; }
@media (max-width: 40rem) { main { padding:.5rem; } th, td { padding:.35rem .4rem; } }
`;

export function Page(props: { title: string; nav?: boolean; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · slimserve`}</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <header>
          <a class="brand" href="/">slimserve</a>
          <nav aria-label="Main">
            <a href="/">Models</a>
            <a href="/experiments">Experiments</a>
            <a href="/docs">API</a>
          </nav>
          {props.nav ? (
            <form method="post" action="/logout">
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
