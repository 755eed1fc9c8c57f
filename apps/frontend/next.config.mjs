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
  outputFileTracingExcludes: {
    // TypeScript is a build tool only; the standalone server never loads it. amphtml-validator
    // (4 MB) validates AMP pages in `next dev` and export only; this app has no AMP page.
    "*": [
      "node_modules/sharp/**",
      "node_modules/@img/**",
      "node_modules/typescript/**",
      "node_modules/next/dist/compiled/amphtml-validator/**",
    ],
  },
};

export default nextConfig;
