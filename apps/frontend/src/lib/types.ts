/** A todo as the backend returns it (timestamps are ISO 8601 strings). */
export interface Todo {
  id: number;
  title: string;
  completed: boolean;
  created_at: string;
  updated_at: string;
}

export interface TodoCreate {
  title: string;
}

export interface TodoUpdate {
  title?: string;
  completed?: boolean;
}

/** How many todos there are in all, and how many of them are not completed. */
export interface TodoCount {
  total: number;
  remaining: number;
}
