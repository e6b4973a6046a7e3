// Lint rules: typescript-eslint's type-aware recommended set (recommendedTypeChecked: floating and misused promises,
// unsafe any, unbound methods, …) plus exhaustive switches, no `any` in our own code, no focused tests. Plain JS files
// (scripts, bin) get the same rules without type information.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'release/**', 'bench/results/**', 'test-results/**', 'docs/examples/**/*.py'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'it', property: 'only' }, { object: 'describe', property: 'only' }, { object: 'test', property: 'only' }],
      // A switch without `default` must name every member of its union (a new step op, message type or error code
      // shows up here); a deliberate `default` counts as handling the rest.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Async methods without await are how our seams return promises and turn throws into rejections.
      '@typescript-eslint/require-await': 'off',
      // Passing a caught `unknown` on is not making up a non-Error reason.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // The image readers take `source.readAt` once and always call it as `readAt.call(source, …)`, which the rule cannot see.
    files: ['src/images/**'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    // Tests: vitest's asymmetric matchers (expect.any, objectContaining) are typed `any`, and spies are read off objects.
    files: ['tests/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.js', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
