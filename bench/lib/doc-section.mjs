// The generated sections of docs/benchmarks.md sit between a pair of HTML comment markers, so
// each bench can rewrite its own section and leave the rest of the page as people wrote it.

/** `page` with the text between `start` and `end` (markers included) replaced by `section`, or with `section` appended when the markers are missing. */
export function replaceSection(page, start, end, section) {
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  return from !== -1 && to > from
    ? page.slice(0, from) + section + page.slice(to + end.length).replace(/^\n/, '')
    : `${page.trimEnd()}\n\n${section}`;
}
