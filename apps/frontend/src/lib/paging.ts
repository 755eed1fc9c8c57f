/**
 * The page's view of the paged list: which todos a page holds and what the pager says. Pure, so
 * the rules are unit-tested without a browser (tests/paging.test.ts).
 */

/** Todos per page: the API's own default page (apps/backend todo_api/api.py DEFAULT_PAGE_SIZE). */
export const PAGE_SIZE = 100;

/** The offset of the last page: where the newest todo (the highest id) is; 0 when there are none. */
export function lastPageOffset(total: number, size: number = PAGE_SIZE): number {
  return total <= 0 ? 0 : Math.floor((total - 1) / size) * size;
}

/** An offset that still has todos on its page (after a delete emptied the last page, the one before). */
export function clampOffset(offset: number, total: number, size: number = PAGE_SIZE): number {
  return Math.min(Math.max(0, Math.floor(offset / size) * size), lastPageOffset(total, size));
}

export interface PageView {
  /** 1-based positions of the first and last todo shown (0 and 0 when there are none). */
  from: number;
  to: number;
  total: number;
  page: number;
  pages: number;
  previousOffset: number | null;
  nextOffset: number | null;
}

export function pageView(offset: number, shown: number, total: number, size: number = PAGE_SIZE): PageView {
  const pages = Math.max(1, Math.ceil(total / size));
  const page = Math.floor(offset / size) + 1;
  return {
    from: shown === 0 ? 0 : offset + 1,
    to: offset + shown,
    total,
    page,
    pages,
    previousOffset: offset > 0 ? Math.max(0, offset - size) : null,
    nextOffset: offset + size < total ? offset + size : null,
  };
}

/** What the page says above the list: "Showing 101–200 of 250 todos". */
export function rangeLabel(view: PageView): string {
  if (view.total === 0) return "No todos yet";
  const noun = view.total === 1 ? "todo" : "todos";
  return `Showing ${view.from}–${view.to} of ${view.total} ${noun}`;
}

/** The row to focus after the row at `index` was removed and `rows` remain: the one that took its
 * place, else the one before it; -1 when none is left (focus the new-todo field instead). */
export function focusAfterRemoval(index: number, rows: number): number {
  return rows === 0 ? -1 : Math.min(index, rows - 1);
}
