import { getHttpOperationsFromSpec } from '@stoplight/prism-http';
import { validateOutput } from '@stoplight/prism-http/dist/validator';

/**
 * What an OpenAPI document says an operation may answer, judged against real answers: the status
 * must be listed by the operation itself (a 4xx only under `default` is not documented), the
 * media type must be one the document names for that status, and a body must be declared. Bodies
 * are judged by Prism (the proxy, or, for a request the proxy answers itself, its validator).
 */

type Doc = Record<string, any>;

/** A response as the client got it. */
export interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

/**
 * Why `answer` is not what the document declares for `method path` (a path template such as
 * `/api/projects/{project_id}`); empty when it is. A 5xx may fall under `default`.
 */
export function undeclared(doc: Doc, method: string, path: string, answer: Answer): string[] {
  const operation = doc.paths?.[path]?.[method.toLowerCase()];
  if (operation === undefined)
    return [`the document has no operation ${method.toUpperCase()} ${path}`];
  const responses = (operation.responses ?? {}) as Record<string, any>;
  const listed = Object.keys(responses).filter((k) => k !== 'default');
  const key = [String(answer.status), `${String(answer.status)[0]}XX`].find((k) => k in responses);
  let response: any;
  if (key !== undefined) {
    response = responses[key];
  } else if (answer.status >= 500 && 'default' in responses) {
    response = responses.default;
  } else {
    return [
      'default' in responses
        ? `status ${answer.status} is not listed (only \`default\` would cover it; listed: ${listed.join(', ') || 'none'})`
        : `status ${answer.status} is not declared (listed: ${listed.join(', ') || 'none'})`,
    ];
  }
  if (typeof response.$ref === 'string') response = resolve(doc, response.$ref);
  const declared = Object.keys(response?.content ?? {});
  const mediaType = (answer.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (answer.body === '') {
    return declared.length && answer.status !== 204 && answer.status !== 304
      ? [`status ${answer.status} came with no body, the document declares ${declared.join(', ')}`]
      : [];
  }
  if (declared.length === 0)
    return [
      `status ${answer.status} came with a body (${mediaType || 'no Content-Type'}), the document declares no content for it`,
    ];
  if (!declared.some((d) => mediaTypeMatches(d, mediaType))) {
    return [
      `status ${answer.status} came as ${mediaType || 'no Content-Type'}, the document declares only ${declared.join(', ')}`,
    ];
  }
  return [];
}

function mediaTypeMatches(declared: string, actual: string): boolean {
  const [type, sub] = declared.toLowerCase().split(';')[0].trim().split('/');
  const [aType, aSub] = actual.split('/');
  return (type === '*' || type === aType) && (sub === '*' || sub === aSub);
}

function resolve(doc: Doc, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((node, key) => node?.[key], doc);
}

/** Prism's own check of responses, for exchanges the proxy cannot forward. */
export interface ResponseValidator {
  /** Prism's violations of `answer` to `method path` (messages), empty when it passes. */
  violations(method: string, path: string, answer: Answer): string[];
}

/** Prism's response validator over the document at `file` (a path). */
export async function prismResponseValidator(file: string): Promise<ResponseValidator> {
  const operations = await getHttpOperationsFromSpec(file);
  return {
    violations(method, path, answer) {
      const resource = operations.find((o) => o.method === method.toLowerCase() && o.path === path);
      if (resource === undefined)
        return [`Prism found no operation ${method.toUpperCase()} ${path}`];
      let body: unknown = answer.body;
      if (/[/+]json\s*(;|$)/i.test(answer.contentType ?? '') && answer.body !== '') {
        try {
          body = JSON.parse(answer.body);
        } catch {
          return [`the ${answer.contentType} body is not JSON: ${answer.body.slice(0, 200)}`];
        }
      }
      const headers: Record<string, string> =
        answer.contentType === null ? {} : { 'content-type': answer.contentType };
      const result = validateOutput({
        resource,
        element: { statusCode: answer.status, headers, body },
      });
      return result._tag === 'Left'
        ? result.left.map((v) => [...(v.path ?? []), v.message].join(': '))
        : [];
    },
  };
}
