// Parse Mermaid diagrams with Mermaid's own parser (run in jsdom), one file per argument; prints
// "<file> ok <diagram type>" or "<file> FAIL <error>" and exits 1 when any failed. For a Gantt chart it also
// asks the chart's model for its tasks: each needs a valid start before its end (mermaid.parse alone
// does not read task dates). Used by tests/report/test_summary.py.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    const parsed = await mermaid.parse(text);
    let extra = '';
    if (parsed.diagramType === 'gantt') {
      const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
      const tasks = diagram.db.getTasks();
      if (tasks.length === 0) throw new Error('a Gantt chart without tasks');
      for (const t of tasks) {
        const start = t.startTime?.getTime?.();
        const end = t.endTime?.getTime?.();
        if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
          throw new Error(`task ${JSON.stringify(t.task)}: start ${t.startTime} end ${t.endTime}`);
        }
      }
      extra = ` ${tasks.length} tasks`;
    }
    console.log(`${file} ok ${parsed.diagramType}${extra}`);
  } catch (e) {
    failed += 1;
    console.log(`${file} FAIL ${String(e?.message ?? e).split('\n').slice(0, 4).join(' | ')}`);
  }
}
process.exit(failed ? 1 : 0);
