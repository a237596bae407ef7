// Written by `rococo routes dist/sample/serve.js --types`: do not edit; run it again when routes change.
export {};

declare module '../src' {
  interface RouteParams {
    "api.add_project": Record<string, never>;
    "api.delete_project": { "project_id": number };
    "api.edit_project": { "project_id": number };
    "api.index": Record<string, never>;
    "api.project": { "project_id": number };
    "api.projects": Record<string, never>;
    "auth.authenticate": Record<string, never>;
    "auth.create_account": Record<string, never>;
    "auth.login": Record<string, never>;
    "auth.logout": Record<string, never>;
    "auth.register": Record<string, never>;
    "health.live": Record<string, never>;
    "health.ready": Record<string, never>;
    "index": Record<string, never>;
    "metrics": Record<string, never>;
    "openapi": Record<string, never>;
    "openapi_assets": { "filename": string | number };
    "openapi_docs": Record<string, never>;
    "openapi_docs_init": Record<string, never>;
    "projects.comment": { "project_id": number };
    "projects.create": Record<string, never>;
    "projects.delete": { "project_id": number };
    "projects.edit": { "project_id": number };
    "projects.index": Record<string, never>;
    "projects.live": { "project_id": number };
    "projects.new": Record<string, never>;
    "projects.show": { "project_id": number };
    "projects.update": { "project_id": number };
    "search": Record<string, never>;
    "static": { "filename": string | number };
    "users.profile": { "user_id": number };
  }
}
