// Polls a condition until it holds, failing with what was awaited once the deadline passes.
export async function until(pred: () => boolean, ms = 5000, what = 'the condition', everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
