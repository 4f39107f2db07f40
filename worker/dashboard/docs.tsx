// /docs: the API reference rendered on the server from the OpenAPI document itself (no CDN, no client script).
import { Page } from "./layout";

type Json = Record<string, unknown>;

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

const asObject = (v: unknown): Json => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});

/** A compact TypeScript-like spelling of a JSON Schema: `{ id: string, bits?: number }`, `Tensor[]`, `"a" | "b"`. */
export function schemaText(schema: unknown, depth = 0): string {
  const s = asObject(schema);
  if (typeof s.$ref === "string") return s.$ref.split("/").pop()!;
  if (depth > 4) return "…";
  const union = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(union)) return union.map((u) => schemaText(u, depth + 1)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(" | ");
  const type = Array.isArray(s.type) ? (s.type as string[]).join(" | ") : s.type;
  if (type === "array") return `${schemaText(s.items, depth + 1)}[]`;
  if (type === "object" || s.properties) {
    const props = asObject(s.properties);
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    const fields = Object.entries(props).map(([k, v]) => `${k}${required.has(k) ? "" : "?"}: ${schemaText(v, depth + 1)}`);
    if (s.additionalProperties && typeof s.additionalProperties === "object") {
      fields.push(`[key: string]: ${schemaText(s.additionalProperties, depth + 1)}`);
    }
    return fields.length ? `{ ${fields.join(", ")} }` : "object";
  }
  if (typeof type === "string") return s.format ? `${type} (${s.format})` : type;
  return "any";
}

function Operation(props: { method: string; path: string; op: Json; secured: boolean }) {
  const { op } = props;
  const params = Array.isArray(op.parameters) ? (op.parameters as Json[]) : [];
  const body = asObject(asObject(op.requestBody).content);
  const responses = asObject(op.responses);
  const anchor = `${props.method}-${props.path}`.replace(/[^A-Za-z0-9]+/g, "-");
  return (
    <section class="card" id={anchor} data-method={props.method.toUpperCase()} data-path={props.path}>
      <h3 style="margin:0 0 .4rem">
        <span class={`badge m-${props.method}`}>{props.method}</span> <code>{props.path}</code>
      </h3>
      <p style="margin:.2rem 0 .6rem">
        {String(op.summary ?? "")} {props.secured ? <span class="muted">· bearer token</span> : <span class="muted">· no token</span>}
      </p>
      {params.length > 0 && (
        <div class="scroll">
          <table>
            <caption>Parameters</caption>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Required</th><th scope="col">Schema</th></tr>
            </thead>
            <tbody>
              {params.map((p) => (
                <tr>
                  <td><code>{String(p.name)}</code></td>
                  <td>{String(p.in)}</td>
                  <td>{p.required ? "yes" : "no"}</td>
                  <td><code>{schemaText(p.schema)}{asObject(p.schema).pattern ? ` /${String(asObject(p.schema).pattern)}/` : ""}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {Object.keys(body).length > 0 && (
        <p>
          <strong>Body</strong>{" "}
          {Object.entries(body).map(([type, media]) => (
            <span><code>{type}</code>: <code>{schemaText(asObject(media).schema)}</code> </span>
          ))}
        </p>
      )}
      <div class="scroll">
        <table>
          <caption>Responses</caption>
          <thead>
            <tr><th scope="col">Status</th><th scope="col">Description</th><th scope="col">Body</th></tr>
          </thead>
          <tbody>
            {Object.entries(responses).map(([status, r]) => {
              const content = asObject(asObject(r).content);
              return (
                <tr>
                  <td>{status}</td>
                  <td>{String(asObject(r).description ?? "")}</td>
                  <td>
                    {Object.entries(content).map(([type, media]) => (
                      <code>{`${type}: ${schemaText(asObject(media).schema)}`}</code>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function renderApiReference(doc: unknown): string {
  const d = asObject(doc);
  const info = asObject(d.info);
  const globalSecured = Array.isArray(d.security) && d.security.length > 0;
  const paths = Object.entries(asObject(d.paths)).sort(([a], [b]) => a.localeCompare(b));
  const schemas = Object.entries(asObject(asObject(d.components).schemas));
  const page = (
    <Page title="API reference">
      <h1>{String(info.title ?? "API")} API reference</h1>
      <p>
        {String(info.description ?? "")} Send <code>Authorization: Bearer &lt;token&gt;</code>. Errors are{" "}
        <code>{"{ error: { code, message } }"}</code>. Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI{" "}
        {String(d.openapi ?? "")}).
      </p>
      <nav aria-label="Operations" class="card">
        <ul style="margin:0;padding-left:1.2rem">
          {paths.flatMap(([path, item]) =>
            METHODS.filter((m) => asObject(item)[m]).map((m) => (
              <li>
                <a href={`#${`${m}-${path}`.replace(/[^A-Za-z0-9]+/g, "-")}`}>
                  <code>{`${m.toUpperCase()} ${path}`}</code>
                </a>{" "}
                <span class="muted">{String(asObject(asObject(item)[m]).summary ?? "")}</span>
              </li>
            )),
          )}
        </ul>
      </nav>
      {paths.flatMap(([path, item]) =>
        METHODS.filter((m) => asObject(item)[m]).map((m) => {
          const op = asObject(asObject(item)[m]);
          const secured = Array.isArray(op.security) ? op.security.length > 0 : globalSecured;
          return <Operation method={m} path={path} op={op} secured={secured} />;
        }),
      )}
      <h2>Schemas</h2>
      {schemas.map(([name, schema]) => (
        <details class="card" id={`schema-${name}`}>
          <summary><code>{name}</code></summary>
          <pre class="mono" style="white-space:pre-wrap">{schemaText(schema)}</pre>
        </details>
      ))}
    </Page>
  );
  return `<!doctype html>${page}`;
}
