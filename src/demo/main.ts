/** Placeholder replaced by the foundation's standalone demo. */
export async function runDemoCommand(_argv: string[]): Promise<number> {
  throw new Error('demo: not built yet');
}
