import type { HttpMethod } from "../../proxmox/http.ts";
import type { RouteDef } from "./context.ts";

interface TrieNode {
  statics: Map<string, TrieNode>;
  param?: { name: string; node: TrieNode };
  routes: Map<HttpMethod, RouteDef>;
}

export interface RouteMatch {
  route: RouteDef;
  pathParams: Record<string, string>;
}

const newNode = (): TrieNode => ({ statics: new Map(), routes: new Map() });

/** Segment trie built once at start, so matching costs one walk of the path. */
export class Router {
  private readonly root = newNode();

  constructor(routes: readonly RouteDef[]) {
    for (const r of routes) this.add(r);
  }

  private add(r: RouteDef): void {
    let node = this.root;
    for (const seg of r.path.split("/").filter((s) => s !== "")) {
      const m = /^\{(.+)\}$/.exec(seg);
      if (m) {
        node.param ??= { name: m[1] as string, node: newNode() };
        node = node.param.node;
      } else {
        let next = node.statics.get(seg);
        if (next === undefined) {
          next = newNode();
          node.statics.set(seg, next);
        }
        node = next;
      }
    }
    node.routes.set(r.method, r);
  }

  match(method: HttpMethod, path: string): RouteMatch | undefined {
    let node: TrieNode | undefined = this.root;
    const pathParams: Record<string, string> = {};
    for (const raw of path.split("/")) {
      if (raw === "") continue;
      let seg: string;
      try {
        seg = decodeURIComponent(raw);
      } catch {
        return undefined;
      }
      const next: TrieNode | undefined = node.statics.get(seg);
      if (next !== undefined) {
        node = next;
      } else if (node.param !== undefined) {
        pathParams[node.param.name] = seg;
        node = node.param.node;
      } else {
        return undefined;
      }
    }
    const route = node.routes.get(method);
    return route === undefined ? undefined : { route, pathParams };
  }
}
