// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The statecharts stay pure: every effect is provided from src/ (or by tests) through machine.provide(),
 * so machines/ may import only xstate and files of machines/. Exported for its own test.
 * @type {import('eslint').Linter.Config} */
export const machinesArePure = {
  files: ['machines/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: '^(?!xstate$|xstate/|\\.\\.?/).*',
            message: 'machines/ is pure: import only xstate and files of machines/ (effects are provided from src/).',
          },
        ],
      },
    ],
  },
};

/** Small pieces: a function longer than a screen or with more than 20 paths hides decisions. An exception
 * is an `eslint-disable-next-line` with the reason beside it. Exported for its own test.
 * @type {import('eslint').Linter.Config} */
export const smallFunctions = {
  files: ['src/**/*.ts', 'machines/**/*.ts'],
  rules: {
    'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    complexity: ['error', 20],
  },
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: false }],
      // client-node's API models (V1Secret, V1ObjectMeta, ...) are declared as classes but are plain JSON
      // shapes: the library serialises them structurally and its own docs build them as object literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': [
        'error',
        {
          allow: [
            {
              from: 'package',
              package: '@kubernetes/client-node',
              name: ['V1ObjectMeta', 'V1CustomResourceDefinition'],
            },
          ],
        },
      ],
    },
  },
  machinesArePure,
  smallFunctions,
  { files: ['**/*.js'], extends: [tseslint.configs.disableTypeChecked] },
);
