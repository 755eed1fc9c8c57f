// Plain ESM config: next build and next dev load it as is, with no TypeScript step.

/** @type {import("next").NextConfig} */
const nextConfig = {
  // Self-contained server (server.js + traced node_modules) for a small runtime image.
  output: "standalone",
  poweredByHeader: false,
  // Type checking is `npm run lint` (tsc) and part of `next build`; ESLint is not a dependency.
  eslint: { ignoreDuringBuilds: true },
  // The UI has no images to optimise, so sharp/libvips can stay out of the standalone output.
  images: { unoptimized: true },
  // Trace the standalone server's files in a worker while the client compiles (the trace reads
  // ~1,900 files of next/ and is the longest step of a rebuild after a source change).
  experimental: { parallelServerBuildTraces: true },
  // What the standalone server never loads (measured cuts in the README). The tracer follows
  // every `require` it can see, including ones only `next build` and `next dev` reach.
  outputFileTracingExcludes: {
    "*": [
      // TypeScript is a build tool only. amphtml-validator (4 MB) validates AMP pages in
      // `next dev` and export only; this app has no AMP page.
      "node_modules/sharp/**",
      "node_modules/@img/**",
      "node_modules/typescript/**",
      "node_modules/next/dist/compiled/amphtml-validator/**",
      // React's development builds: the standalone server.js sets NODE_ENV=production.
      "node_modules/react/cjs/*.development.js",
      "node_modules/react-dom/cjs/*.development.js",
      // App-page/pages runtimes for Turbopack builds and experimental React: `next build` here is
      // webpack and no experimental React feature is on (server/route-modules/*/module.compiled).
      "node_modules/next/dist/compiled/next-server/*-turbo*.runtime.prod.js",
      "node_modules/next/dist/compiled/next-server/*-experimental.runtime.prod.js",
      // next/font's loaders and their fallback metrics run in `next build` only.
      "node_modules/next/dist/compiled/@next/font/**",
      "node_modules/next/dist/server/capsize-font-metrics.json",
      // Babel is the build's compiler (the server keeps babel/code-frame.js, for error frames).
      "node_modules/next/dist/compiled/babel/bundle.js",
      "node_modules/next/dist/compiled/babel-packages/**",
      // The dev overlay's client bundle (`next dev` only).
      "node_modules/next/dist/compiled/next-devtools/**",
      // CSS build tooling (webpack's CSS rules and minifier).
      "node_modules/next/dist/compiled/postcss-preset-env/**",
      "node_modules/next/dist/compiled/cssnano-simple/**",
      "node_modules/next/dist/compiled/browserslist/**",
      "node_modules/caniuse-lite/**",
    ],
  },
};

export default nextConfig;
