/** Result of the `ensure*` methods: the object, and whether this call created it. */
export interface Ensured<T> {
  /** `true` when this call created the object, `false` when it existed already. */
  created: boolean;
  /** The object as it is now on the server. */
  value: T;
}
