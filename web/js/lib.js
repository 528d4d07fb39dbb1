// The view library: Preact (vendored in web/vendor/, see web/README.md) with htm's tagged templates,
// so components are plain ES modules with no build step. Strings in templates always become text
// nodes; there is no dangerouslySetInnerHTML anywhere in the code base.

import { Component, Fragment, createRef, h, render } from "../vendor/preact.mjs";
import { useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from "../vendor/preact-hooks.mjs";
import htm from "../vendor/htm.mjs";

export const html = htm.bind(h);
export { Component, Fragment, createRef, h, render, useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState };
