// Where the APIs are: config.json beside the pages (written by the local stack, or by the CDK
// deployment for CloudFront). {"apiUrl": "https://…/api", "wsUrl": "wss://…/ws"}

let loading = null;

/** The deployment's config, fetched once per page. */
export function loadConfig() {
  loading ??= fetch("config.json", { cache: "no-store" }).then(async (response) => {
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    const config = await response.json();
    if (typeof config.apiUrl !== "string" || typeof config.wsUrl !== "string") {
      throw new Error("config.json needs apiUrl and wsUrl");
    }
    return { apiUrl: config.apiUrl.replace(/\/+$/, ""), wsUrl: config.wsUrl };
  });
  return loading;
}
