/** The last error of a page or form, announced to screen readers; nothing when there is none. */
export function ErrorAlert(props: { error: string | undefined }) {
  if (!props.error) return null;
  return (
    <p role="alert" className="error">
      {props.error}
    </p>
  );
}

/** A fieldset of checkboxes choosing a subset of `options` (webhook events, API key scopes). */
export function CheckboxGroup(props: {
  legend: string;
  options: readonly string[];
  value: string[];
  /** Called with the change to apply (a React state setter fits). */
  onChange: (change: (value: string[]) => string[]) => void;
}) {
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      {props.options.map((option) => (
        <label key={option} className="check">
          <input
            type="checkbox"
            checked={props.value.includes(option)}
            onChange={(e) => {
              const checked = e.target.checked;
              props.onChange((value) => (checked ? [...value, option] : value.filter((x) => x !== option)));
            }}
          />
          {option}
        </label>
      ))}
    </fieldset>
  );
}
