import { describe, expect, it } from "vitest";
import { PAGE_SIZE, clampOffset, focusAfterRemoval, lastPageOffset, pageView, rangeLabel } from "@/lib/paging";

describe("paging the list as the API pages it", () => {
  it("uses the API's default page size", () => {
    expect(PAGE_SIZE).toBe(100);
  });

  it.each([
    [0, 0],
    [1, 0],
    [100, 0],
    [101, 100],
    [250, 200],
    [300, 200],
  ])("with %i todos the last page starts at %i", (total, offset) => {
    expect(lastPageOffset(total)).toBe(offset);
  });

  it.each([
    [200, 250, 200],
    [200, 200, 100], // the last page emptied by a delete: the one before
    [300, 250, 200],
    [150, 250, 100], // not on a page boundary: that page's start
    [-5, 250, 0],
    [100, 0, 0],
  ])("offset %i with %i todos is shown as %i", (offset, total, shown) => {
    expect(clampOffset(offset, total)).toBe(shown);
  });

  it("every todo of 250 is on exactly one page, in order, with next/previous between them", () => {
    const seen: number[] = [];
    let offset: number | null = 0;
    const labels: string[] = [];
    while (offset !== null) {
      const shown = Math.min(PAGE_SIZE, 250 - offset);
      const view = pageView(offset, shown, 250);
      for (let position = view.from; position <= view.to; position++) seen.push(position);
      labels.push(`${rangeLabel(view)} (page ${view.page} of ${view.pages})`);
      if (view.nextOffset !== null) expect(pageView(view.nextOffset, PAGE_SIZE, 250).previousOffset).toBe(offset);
      offset = view.nextOffset;
    }
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(labels).toEqual([
      "Showing 1–100 of 250 todos (page 1 of 3)",
      "Showing 101–200 of 250 todos (page 2 of 3)",
      "Showing 201–250 of 250 todos (page 3 of 3)",
    ]);
  });

  it("the first page has no previous, a single page no next", () => {
    expect(pageView(0, 100, 250).previousOffset).toBeNull();
    expect(pageView(0, 3, 3)).toMatchObject({ previousOffset: null, nextOffset: null, pages: 1 });
    expect(pageView(0, 100, 100).nextOffset).toBeNull();
  });

  it("says so when there are none, and counts one todo in the singular", () => {
    expect(rangeLabel(pageView(0, 0, 0))).toBe("No todos yet");
    expect(rangeLabel(pageView(0, 1, 1))).toBe("Showing 1–1 of 1 todo");
  });

  it.each([
    [3, 10, 3],
    [9, 9, 8],
    [0, 0, -1],
  ])("after removing row %i with %i left, focus goes to row %i", (index, rows, target) => {
    expect(focusAfterRemoval(index, rows)).toBe(target);
  });
});
