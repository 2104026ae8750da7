/** Placeholder replaced by the foundation's lifecycle (proxy start/stop). */
export async function runProxyCommand(_argv: string[]): Promise<number> {
  throw new Error('proxy: not built yet');
}
